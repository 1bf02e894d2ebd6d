"""seq2seq-score: a task's scores of a prediction file against its references: BLEU, chrF
and TER of translations (the default), or, with --task classification, accuracy, macro-F1
and the confusion matrix of predicted labels; any task (a dotted path too) scores as its
`score` says.

    seq2seq-score runs/demo/test.hyp data/prepared/.../test.ref [MORE_REFS ...]
    seq2seq-score --task classification predicted.txt data/sentiment-movies/test.tsv.xz

For classify the reference is a labels file (one a line), a labelled table (.tsv, .csv,
.jsonl, plain or .xz: its `--label-column`, no text column needed) or a folder of label
folders (seq2seq/tasks/classification/labelled.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.cli.common import run as run_cli
from seq2seq.config.schema import TrainConfig
from seq2seq.tasks import task_class


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="seq2seq-score", description=__doc__.split("\n")[0])
    p.add_argument("hyp", type=Path, help="detokenised translations (or labels), one a line")
    p.add_argument("refs", type=Path, nargs="+", help="reference file(s), line-aligned")
    p.add_argument("--task", default=TrainConfig.task,
                   help="the task whose scores (default: translation's BLEU, chrF, TER)")
    p.add_argument("--label-column", default="label", help="classify: a table's label column")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)

    def body() -> None:
        for line in task_class(args.task).score(args.hyp, args.refs, args.label_column):
            print(line)
    run_cli("seq2seq-score", body, args.debug)


if __name__ == "__main__":
    main()
