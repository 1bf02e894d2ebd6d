"""BLEU and chrF through sacrebleu, always with the signature that makes them comparable.

Scores are computed on detokenised text, as sacrebleu expects: never on pieces or ids.
"""
from __future__ import annotations

from dataclasses import dataclass

import sacrebleu


@dataclass
class Score:
    name: str  # BLEU | chrF
    score: float
    signature: str  # e.g. nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0

    def __str__(self) -> str:
        return f"{self.name} = {self.score:.2f}  ({self.signature})"


def bleu(hyps: list[str], refs: list[list[str]]) -> Score:
    """Corpus BLEU; `refs` is one list of lines per reference."""
    _check(hyps, refs)
    metric = sacrebleu.BLEU()
    result = metric.corpus_score(hyps, refs)
    return Score("BLEU", result.score, str(metric.get_signature()))


def chrf(hyps: list[str], refs: list[list[str]]) -> Score:
    _check(hyps, refs)
    metric = sacrebleu.CHRF()
    result = metric.corpus_score(hyps, refs)
    return Score("chrF", result.score, str(metric.get_signature()))


def _check(hyps: list[str], refs: list[list[str]]) -> None:
    for i, ref in enumerate(refs):
        if len(ref) != len(hyps):
            raise ValueError(f"reference {i + 1} has {len(ref)} lines, "
                             f"hypotheses have {len(hyps)}")
