"""seq2seq-score: BLEU and chrF of a hypothesis file against one or more references; or,
with --task classify, accuracy, macro-F1 and the confusion matrix of predicted labels.

    seq2seq-score runs/demo/test.hyp data/prepared/.../test.ref [MORE_REFS ...]
    seq2seq-score --task classify predicted.txt data/sentiment-movies/test.tsv.xz

For classify the reference is a labels file (one a line), a labelled table (.tsv, .csv,
.jsonl, plain or .xz: its `--label-column`, no text column needed) or a folder of label
folders (seq2seq/labelled.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.cli import run as run_cli
from seq2seq.labelled import TABLES, label_set, read_label_column
from seq2seq.textfile import input_file, read_lines
from seq2seq.metrics import bleu, chrf, label_scores


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="seq2seq-score", description=__doc__.split("\n")[0])
    p.add_argument("hyp", type=Path, help="detokenised translations (or labels), one a line")
    p.add_argument("refs", type=Path, nargs="+", help="reference file(s), line-aligned")
    p.add_argument("--task", choices=["translation", "classify"], default="translation")
    p.add_argument("--label-column", default="label", help="classify: a table's label column")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.task == "classify":
        if len(args.refs) != 1:
            p.error("--task classify takes one reference")
        run_cli("seq2seq-score", lambda: score_labels(args.hyp, args.refs[0],
                                                      args.label_column), args.debug)
    else:
        run_cli("seq2seq-score", lambda: score(args.hyp, args.refs), args.debug)


def score(hyp_path: Path, ref_paths: list[Path]) -> None:
    for path in [hyp_path, *ref_paths]:
        input_file(path, "file")
    hyps = list(read_lines(hyp_path))
    refs = [list(read_lines(r)) for r in ref_paths]
    for path, ref in zip(ref_paths, refs):
        if len(ref) != len(hyps):
            raise ValueError(f"{path} has {len(ref)} lines but {hyp_path} has {len(hyps)}")
    for result in (bleu(hyps, refs), chrf(hyps, refs)):
        print(result)


def score_labels(hyp_path: Path, ref_path: Path, label_column: str) -> None:
    """Accuracy, macro-F1 and the confusion matrix (rows: reference, columns: predicted)."""
    input_file(hyp_path, "file")
    if not (ref_path.is_file() or ref_path.is_dir()):
        raise FileNotFoundError(f"{ref_path}: no such file")
    predicted = [line.strip() for line in read_lines(hyp_path)]
    if any(not p for p in predicted):
        raise ValueError(f"{hyp_path}:{predicted.index('') + 1}: empty label")
    labelled = ref_path.is_dir() or ref_path.name.removesuffix(".xz").endswith(TABLES)
    # only the labels are compared: a reference with no text column scores as well
    gold = ([label for _, label in read_label_column(ref_path, label_column)] if labelled
            else [line.strip() for line in read_lines(ref_path)])
    if len(gold) != len(predicted):
        raise ValueError(f"{ref_path} has {len(gold)} labels but {hyp_path} has "
                         f"{len(predicted)}")
    labels = label_set([("", "", g) for g in set(gold) | set(predicted)])
    result = label_scores(predicted, gold, labels)
    print(result)
    width = max(map(len, labels + ["gold"]))
    print(" " * width + "  " + " ".join(f"{label:>{width}}" for label in labels))
    for label, row in zip(labels, result.confusion):
        print(f"{label:>{width}}  " + " ".join(f"{n:>{width}}" for n in row))


if __name__ == "__main__":
    main()
