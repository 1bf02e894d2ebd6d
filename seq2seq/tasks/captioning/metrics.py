"""Captioning metrics: BLEU-1..4 (sacrebleu, with signatures), CIDEr-D and ROUGE-L (with the
scheme they were computed in), and for digit-string tasks exact match and character error
rate.
(The command that scores files with them: seq2seq/tasks/captioning/score.py.)

Each image has one or more references, their count varying per image: REFS.jsonl holds one
JSON list of strings a line, line-aligned with HYP (one hypothesis a line; '-' is stdin).

CIDEr-D is pycocoevalcap's scorer (`pycocoevalcap.cider`, coco-caption's CIDEr-D: clipped
tf-idf n-grams, Gaussian length penalty, x10), reported on coco-caption's scale (0.853,
not 85.3). Its idf comes from the references of the corpus scored, so the score depends on
the whole corpus (one image alone scores 0). coco-caption tokenises with the Java
PTBTokenizer; here text is lowercased and split by sacrebleu's 13a tokenizer instead: pure
Python, no Java, and the same tokens BLEU sees. Unlike PTB it keeps punctuation as tokens,
so scores with punctuation differ slightly from coco-caption's. Every CIDEr-D and ROUGE-L
says so: `(pycocoevalcap:1.2|tok:13a|case:lc)`, sacrebleu's signature style.

ROUGE-L is pycocoevalcap's too (`pycocoevalcap.rouge`: the longest common subsequence's
F-measure with beta 1.2, the best over an image's references, averaged over images), on
the same tokens, on its 0-1 scale.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from importlib import metadata

import sacrebleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from seq2seq.config.extras import requires
from seq2seq.data.textfile import json_lines
from seq2seq.evaluation.metrics import Score

_TOKENIZE = Tokenizer13a()


def coco_scheme() -> str:
    """How CIDEr-D and ROUGE-L were computed, signed like sacrebleu's scores."""
    return f"pycocoevalcap:{metadata.version('pycocoevalcap')}|tok:13a|case:lc"


@dataclass
class CaptionScores:
    bleu: list[Score]  # BLEU-1 .. BLEU-4, each with its sacrebleu signature
    cider_d: float  # coco-caption's scale, e.g. 0.853
    rouge_l: float  # 0-1
    scheme: str  # of CIDEr-D and ROUGE-L: coco_scheme()
    exact: Optional[float] = None  # percent of hypotheses equal to one of their references
    cer: Optional[float] = None  # percent, against the first reference, spaces counted

    def __str__(self) -> str:
        lines = [str(score) for score in self.bleu]
        lines.append(f"CIDEr-D = {self.cider_d:.3f}  ({self.scheme})")
        lines.append(f"ROUGE-L = {self.rouge_l:.3f}  ({self.scheme})")
        if self.exact is not None:
            lines.append(f"exact = {self.exact:.2f}")
        if self.cer is not None:
            lines.append(f"CER = {self.cer:.2f}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """JSON-ready: bleu1, bleu1_signature, .. bleu4_signature, cider_d, rouge_l,
        coco_scheme (theirs), exact, cer."""
        out: dict = {}
        for n, score in enumerate(self.bleu, start=1):
            out[f"bleu{n}"] = score.score
            out[f"bleu{n}_signature"] = score.signature
        out.update(cider_d=self.cider_d, rouge_l=self.rouge_l, coco_scheme=self.scheme,
                   exact=self.exact, cer=self.cer)
        return out


def caption_scores(hyps: list[str], refs: list[list[str]],
                   sequence: bool = False) -> CaptionScores:
    """refs[i]: the references of hypothesis i (one or more, their count may vary per
    image). sequence=True adds exact match and CER (the digit-string tasks)."""
    _check(hyps, refs)
    streams = _ref_streams(refs)
    bleu = []
    for n in range(1, 5):
        metric = sacrebleu.BLEU(max_ngram_order=n)
        result = metric.corpus_score(hyps, streams)
        bleu.append(Score(f"BLEU-{n}", result.score, str(metric.get_signature())))
    scores = CaptionScores(bleu, cider_d(hyps, refs), rouge_l(hyps, refs), coco_scheme())
    if sequence:
        scores.exact = exact_match(hyps, refs)
        scores.cer = character_error_rate(hyps, [r[0] for r in refs])
    return scores


def _ref_streams(refs: list[list[str]]) -> list[list[Optional[str]]]:
    """Per-image reference lists -> sacrebleu's streams (one list per reference position).

    A missing reference is None: sacrebleu 2.x (metrics/base.py `_cache_references`) drops
    None before extracting n-grams and lengths, and signs nrefs:var. An empty string is NOT
    dropped despite its docstring: it would count as a reference of length 0 and could
    become the closest length for BLEU's brevity penalty.
    """
    most = max(len(r) for r in refs)
    return [[r[k] if k < len(r) else None for r in refs] for k in range(most)]


def cider_d(hyps: list[str], refs: list[list[str]]) -> float:
    """Corpus CIDEr-D (pycocoevalcap) on lowercased 13a tokens; see the module docstring."""
    cider = requires("pycocoevalcap.cider.cider", "caption", "CIDEr-D")
    score, _ = cider.Cider().compute_score(*_coco_inputs(hyps, refs))
    return float(score)


def rouge_l(hyps: list[str], refs: list[list[str]]) -> float:
    """Mean ROUGE-L F (pycocoevalcap, beta 1.2) on lowercased 13a tokens; 0-1."""
    rouge = requires("pycocoevalcap.rouge.rouge", "caption", "ROUGE-L")
    score, _ = rouge.Rouge().compute_score(*_coco_inputs(hyps, refs))
    return float(score)


def _coco_inputs(hyps: list[str], refs: list[list[str]]) -> tuple[dict, dict]:
    """pycocoevalcap's (gts, res): references and hypothesis of each image, tokenised."""
    _check(hyps, refs)
    gts = {i: [_tokens(r) for r in image_refs] for i, image_refs in enumerate(refs)}
    return gts, {i: [_tokens(h)] for i, h in enumerate(hyps)}


def _tokens(text: str) -> str:
    return " ".join(_TOKENIZE(text.lower()).split())


def exact_match(hyps: list[str], refs: list[list[str]]) -> float:
    """Percent of hypotheses equal to one of their references, runs of whitespace made one
    space and ends stripped; case and punctuation count."""
    def norm(s: str) -> str:
        return " ".join(s.split())
    hits = sum(norm(h) in {norm(r) for r in rs} for h, rs in zip(hyps, refs))
    return 100 * hits / len(hyps)


def character_error_rate(hyps: list[str], refs: list[str]) -> float:
    """jiwer's corpus CER in percent: edits summed over lines / reference characters summed.
    Spaces inside a line are characters ("1 2 3" vs "1 2 4": 1 edit in 5 = 20%); jiwer strips
    only the ends of each line."""
    jiwer = requires("jiwer", "caption", "the character error rate")
    return 100 * jiwer.cer(reference=refs, hypothesis=hyps)


def _check(hyps: list[str], refs: list[list[str]]) -> None:
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} reference lists")
    if not hyps:
        raise ValueError("no hypotheses to score")
    for i, image_refs in enumerate(refs, start=1):
        if not image_refs:
            raise ValueError(f"hypothesis {i} has no reference")


def read_refs(path: Path) -> list[list[str]]:
    """A .jsonl of one JSON list of (non-blank) strings a line; a bad line is a ValueError
    'PATH:LINE: what' (invalid UTF-8 comes from textfile.read_lines in the same form)."""
    refs = []
    for where, value in json_lines(path):
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a JSON list of strings, "
                             f"got {type(value).__name__}")
        if not value:
            raise ValueError(f"{where}: empty list: every image needs a reference")
        if not all(isinstance(r, str) and r.strip() for r in value):
            raise ValueError(f"{where}: every reference must be a non-blank string")
        refs.append(value)
    return refs
