"""A tagger's scores, each named with its scheme:

    token accuracy          percent of tokens whose tag is the gold one (POS tagging's measure)
    entity P / R / F1       seqeval, IOB2, strict mode: an entity counts only if its type and
                            both boundaries match (CoNLL's measure); micro-averaged, and per type
    most frequent errors    the (gold -> predicted) pairs most often confused, with counts

Entity scores are given when every tag of the set is IOB2-shaped (O, B-X, I-X); a POS tag
set has token accuracy alone.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from seq2seq.config.extras import requires
from seq2seq.evaluation.metrics import Reported

ENTITY_SCHEME = "seqeval IOB2 strict, micro"


def is_iob(tags: list[str]) -> bool:
    """Whether a tag set is IOB2-shaped (entity scores apply)."""
    return all(t == "O" or (t[:2] in ("B-", "I-") and len(t) > 2) for t in tags)


@dataclass
class EntityScores:
    precision: float  # percent, micro over every entity
    recall: float
    f1: float
    per_type: dict[str, tuple[float, float, float, int]]  # type -> (P, R, F1, gold count)

    def __str__(self) -> str:
        return (f"entity F1 = {self.f1:.2f} (P {self.precision:.2f} R {self.recall:.2f}; "
                f"{ENTITY_SCHEME})")


@dataclass
class TagScores:
    accuracy: float  # percent of tokens
    tokens: int
    entities: Optional[EntityScores] = None
    errors: list[tuple[str, str, int]] = field(default_factory=list)  # (gold, predicted, n)

    def __str__(self) -> str:
        text = f"token accuracy = {self.accuracy:.2f} ({self.tokens} tokens)"
        return text + (f"  {self.entities}" if self.entities else "")

    def reported(self, name: str) -> Reported:
        """`dev_accuracy` (and `dev_entity_f1`, `_precision`, `_recall`, its scheme), and the
        most frequent errors; `dev token accuracy = ...` in the log."""
        record: dict = {"dev_accuracy": self.accuracy}
        scalars = {"accuracy": self.accuracy}
        if self.entities is not None:
            e = self.entities
            record.update(dev_entity_f1=e.f1, dev_entity_precision=e.precision,
                          dev_entity_recall=e.recall, dev_entity_scheme=ENTITY_SCHEME)
            scalars["entity_f1"] = e.f1
        record["dev_errors"] = [list(e) for e in self.errors[:5]]
        errors = ", ".join(f"{g}->{p} {n}" for g, p, n in self.errors[:5])
        return Reported(record, scalars, f"dev {self}  errors {errors}")

    def lines(self) -> list[str]:
        """The report `seq2seq-score --task tag` prints."""
        out = [f"token accuracy = {self.accuracy:.2f}  ({self.tokens} tokens)"]
        if self.entities is not None:
            e = self.entities
            out.append(f"entity precision = {e.precision:.2f}  recall = {e.recall:.2f}  "
                       f"F1 = {e.f1:.2f}  ({ENTITY_SCHEME})")
            out += [f"  {kind:<8} P {p:6.2f}  R {r:6.2f}  F1 {f:6.2f}  ({n} gold)"
                    for kind, (p, r, f, n) in sorted(e.per_type.items())]
        out.append("most frequent errors (gold -> predicted):")
        out += [f"  {g} -> {p}  {n}" for g, p, n in self.errors[:10]]
        return out


def entity_scores(predicted: list[list[str]], gold: list[list[str]]) -> EntityScores:
    """seqeval's strict IOB2 entity scores (the `tag` extra's dependency)."""
    classification_report = requires("seqeval.metrics", "tag",
                                     "entity scores").classification_report
    IOB2 = requires("seqeval.scheme", "tag", "entity scores").IOB2

    report = classification_report(gold, predicted, mode="strict", scheme=IOB2,
                                   output_dict=True, zero_division=0)
    micro = report["micro avg"]
    per_type = {k: (100 * v["precision"], 100 * v["recall"], 100 * v["f1-score"],
                    int(v["support"]))
                for k, v in report.items() if not k.endswith(" avg")}
    return EntityScores(100 * micro["precision"], 100 * micro["recall"],
                        100 * micro["f1-score"], per_type)


def tag_scores(predicted: list[list[str]], gold: list[list[str]],
               iob: Optional[bool] = None) -> TagScores:
    """Scores of predicted tag sequences against gold ones (same lengths, sentence by
    sentence). `iob`: whether entity scores apply (default: whether every tag is IOB2)."""
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predicted sentences for {len(gold)} gold ones")
    errors: Counter = Counter()
    right = total = 0
    for i, (p, g) in enumerate(zip(predicted, gold)):
        if len(p) != len(g):
            raise ValueError(f"sentence {i + 1}: {len(p)} predicted tags for {len(g)} tokens")
        right += sum(a == b for a, b in zip(p, g))
        total += len(g)
        errors.update((b, a) for a, b in zip(p, g) if a != b)
    tags = {t for s in gold + predicted for t in s}
    entities = entity_scores(predicted, gold) if (is_iob(sorted(tags)) if iob is None
                                                   else iob) else None
    return TagScores(100 * right / max(total, 1), total, entities,
                     [(g, p, n) for (g, p), n in errors.most_common(20)])
