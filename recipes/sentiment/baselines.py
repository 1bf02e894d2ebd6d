"""Baselines for sentence classification: the majority class and bag-of-words logistic
regression, the floor any classifier trained with seq2seq must clear.

    python recipes/sentiment/baselines.py --train data/sentiment-movies/train.tsv.xz \\
        --dev data/sentiment-movies/dev.tsv.xz --test data/sentiment-movies/test.tsv.xz \\
        --test data/sentiment-uci/yelp.tsv.xz --json runs/baselines.json

majority: every text gets the training split's most frequent label. logreg: TF-IDF of word
unigrams and bigrams (lowercased), then L2-regularised logistic regression; its inverse
regularisation strength C is chosen on --dev (best accuracy, the smaller C on a tie) from
0.25 to 8, or is 1 without --dev. Files are read as training reads them
(seq2seq.tasks.classification.labelled); scores are
seq2seq.evaluation.metrics.label_scores (accuracy, macro-F1 in percent). Needs scikit-learn: `pip install 'seq2seq[baselines]'`.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from seq2seq.cli.common import run as run_cli
from seq2seq.evaluation.metrics import LabelScores, label_scores
from seq2seq.tasks.classification.labelled import Example, check_labels, label_set, read_labelled

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

PROG = "baselines.py"
C_GRID = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
DEFAULT_C = 1.0


def majority_label(train: list[Example], labels: list[str]) -> str:
    """The most frequent training label; on a tie, the first in the label set's order."""
    counts = Counter(label for _, _, label in train)
    return max(labels, key=lambda label: (counts[label], -labels.index(label)))


def fit_logreg(train: list[Example], c: float) -> "Pipeline":
    """A TF-IDF (word 1-2 grams) + logistic regression pipeline fitted on `train`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), lowercase=True),
                          LogisticRegression(C=c, max_iter=1000))
    model.fit([text for _, text, _ in train], [label for _, _, label in train])
    return model


def score(model: "Pipeline", examples: list[Example], labels: list[str]) -> LabelScores:
    predicted = [str(p) for p in model.predict([text for _, text, _ in examples])]
    return label_scores(predicted, [label for _, _, label in examples], labels)


def choose_c(train: list[Example], dev: list[Example], labels: list[str]
             ) -> tuple[float, dict[float, float]]:
    """The C of the grid with the best dev accuracy (the smaller on a tie), and every
    C's dev accuracy."""
    accuracy = {c: score(fit_logreg(train, c), dev, labels).accuracy for c in C_GRID}
    best = max(C_GRID, key=lambda c: (accuracy[c], -c))
    return best, accuracy


def as_dict(scores: LabelScores) -> dict:
    return {"accuracy": scores.accuracy, "macro_f1": scores.macro_f1,
            "labels": scores.labels, "confusion": scores.confusion}


def line(test: Path, name: str, scores: LabelScores) -> str:
    return f"{test}  {name:<8}  acc {scores.accuracy:.2f}%  macro-F1 {scores.macro_f1:.2f}"


def read(path: Path, args: argparse.Namespace) -> list[Example]:
    examples = list(read_labelled(path, args.text_column, args.label_column))
    if not examples:
        raise ValueError(f"{path}: no examples")
    return examples


def tuned_c(args: argparse.Namespace, train: list[Example], labels: list[str],
            report: dict) -> float:
    """C chosen on --dev (printed, and kept in the report), or the default without one."""
    if args.dev is None:
        report["C"] = DEFAULT_C
        return DEFAULT_C
    dev = read(args.dev, args)
    check_labels(dev, labels)
    c, by_c = choose_c(train, dev, labels)
    report.update(dev=str(args.dev), C=c, dev_accuracy_by_C={f"{k:g}": v for k, v in by_c.items()})
    tried = ", ".join(f"C={k:g} {v:.2f}" for k, v in by_c.items())
    print(f"{args.dev}  logreg C chosen on dev: {c:g} (dev acc {by_c[c]:.2f}%; {tried})")
    return c


def baselines(args: argparse.Namespace) -> dict:
    """Fit both baselines on --train, score them on every --test; print and return it all."""
    train = read(args.train, args)
    labels = label_set(train)
    majority = majority_label(train, labels)
    report: dict = {"train": str(args.train), "labels": labels, "majority_label": majority}
    model = fit_logreg(train, tuned_c(args, train, labels, report))
    report["tests"] = {}
    for path in args.test:
        test = read(path, args)
        check_labels(test, labels)
        gold = [label for _, _, label in test]
        figures = {"majority": label_scores([majority] * len(test), gold, labels),
                   "logreg": score(model, test, labels)}
        for name, scores in figures.items():
            print(line(path, name, scores))
        report["tests"][str(path)] = {n: as_dict(s) for n, s in figures.items()}
    return report


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("--train", type=Path, required=True)
    p.add_argument("--dev", type=Path, help="choose logreg's C here (default: C=1)")
    p.add_argument("--test", type=Path, action="append", required=True,
                   help="a file to score both baselines on; repeat for more")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--json", type=Path, help="write every figure to this JSON file")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p.parse_args(sys.argv[1:] if argv is None else argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    try:
        importlib.import_module("sklearn")
    except ImportError:
        print(f"{PROG}: needs scikit-learn: pip install 'seq2seq[baselines]'", file=sys.stderr)
        raise SystemExit(1) from None

    def body() -> None:
        report = baselines(args)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    run_cli(PROG, body, args.debug)


if __name__ == "__main__":
    main()
