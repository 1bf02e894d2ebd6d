"""BLEU, chrF and TER through sacrebleu, always with the signature that makes them comparable.

Scores are computed on detokenised text, as sacrebleu expects: never on pieces or ids.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import sacrebleu


@dataclass
class Reported:
    """How a dev metric is reported: its metrics.jsonl fields, its TensorBoard scalars (by
    name under dev/) and its words in the log line."""
    record: dict
    scalars: dict[str, float]
    text: str


def reported(name: str, value: Union[float, "Score", "LabelScores"]) -> Reported:
    """A metric's report: a number as `dev_<name>` (`dev ppl 12.30`); a score type as it says
    (its `reported`), so the reporter names no task's metric."""
    if hasattr(value, "reported"):
        return value.reported(name)
    return Reported({f"dev_{name}": value}, {name: value}, f"dev {name} {value:.2f}")


@dataclass
class Score:
    name: str  # BLEU | chrF | TER (an edit rate: lower is better)
    score: float
    signature: str  # e.g. nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0

    def __str__(self) -> str:
        return f"{self.name} = {self.score:.2f}  ({self.signature})"

    def reported(self, name: str) -> Reported:
        """`dev_<name>` with `dev_<name>_signature` beside it; `dev BLEU = 12.34  (...)`."""
        return Reported({f"dev_{name}": self.score, f"dev_{name}_signature": self.signature},
                        {name: self.score}, f"dev {self}")


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


def ter(hyps: list[str], refs: list[list[str]]) -> Score:
    """Translation edit rate (Snover et al. 2006): edits, shifts included, per reference
    word, in percent; lower is better. sacrebleu's defaults (tercom tokenisation, case off)."""
    _check(hyps, refs)
    metric = sacrebleu.TER()
    result = metric.corpus_score(hyps, refs)
    return Score("TER", result.score, str(metric.get_signature()))


def _check(hyps: list[str], refs: list[list[str]]) -> None:
    for i, ref in enumerate(refs):
        if len(ref) != len(hyps):
            raise ValueError(f"reference {i + 1} has {len(ref)} lines, "
                             f"hypotheses have {len(hyps)}")


@dataclass
class LabelScores:
    """Accuracy, macro-F1 (the mean over labels of each label's F1, so a rare label counts
    as much as a frequent one) and the confusion matrix (row: gold label, column: predicted)."""
    accuracy: float  # percent
    macro_f1: float  # percent
    labels: list[str]
    confusion: list[list[int]]

    def __str__(self) -> str:
        return f"accuracy = {self.accuracy:.2f}  macro-F1 = {self.macro_f1:.2f}"

    def reported(self, name: str) -> Reported:
        """`dev_accuracy`, `dev_macro_f1`, `dev_confusion` (whatever `name`)."""
        return Reported({"dev_accuracy": self.accuracy, "dev_macro_f1": self.macro_f1,
                         "dev_confusion": self.confusion},
                        {"accuracy": self.accuracy, "macro_f1": self.macro_f1},
                        f"dev {self}  confusion {self.confusion} ({', '.join(self.labels)})")


def label_scores(predicted: list[str], gold: list[str], labels: list[str]) -> LabelScores:
    """Scores of predicted labels against gold ones, over the label set `labels`."""
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} gold labels")
    index = {label: i for i, label in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for p, g in zip(predicted, gold):
        confusion[index[g]][index[p]] += 1
    f1 = []
    for i in range(len(labels)):
        tp = confusion[i][i]
        predicted_i, gold_i = sum(row[i] for row in confusion), sum(confusion[i])
        f1.append(2 * tp / (predicted_i + gold_i) if predicted_i + gold_i else 0.0)
    correct = sum(confusion[i][i] for i in range(len(labels)))
    return LabelScores(100 * correct / max(len(gold), 1), 100 * sum(f1) / max(len(f1), 1),
                       list(labels), confusion)
