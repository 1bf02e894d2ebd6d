"""seq2seq-classify: texts in, labels out, exactly one output line per input text.

    seq2seq-classify RUN [RUN ...] [--input FILE] [--output FILE] [--probs] [--batch-size 64]
    echo "A gorgeous, witty film." | seq2seq-classify runs/sentiment
    seq2seq-classify runs/sentiment --input data/sentiment-movies/test.tsv.xz --probs
    seq2seq-classify runs/a runs/b --input texts.txt      # an ensemble: mean probabilities

A thin shell over `seq2seq.Classifier` (the Python API).

Input: plain text, one text a line (a file, plain or .xz, or stdin), or a labelled table
(a path ending .tsv, .csv or .jsonl, plain or .xz): its --text-column, one text a row; any
label column is ignored. Output: each text's label, or with --probs
`label<TAB>p(label 1)<TAB>p(label 2)...`, the probabilities in labels.txt order, 4 decimals.

Nothing is lost: every input line is read and checked (UTF-8, not empty: a classifier
cannot label nothing) before anything is written, and --output is replaced only once
complete; an error is one line naming the file and line, and a non-zero exit.
From a terminal (or with --stream), each line is answered as it arrives, flushed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from seq2seq.cli.common import check_not_inputs, run as run_cli, stdin_lines, write_output
from seq2seq.data.textfile import decode_line, input_file, read_lines
from seq2seq.export.locate import locate
from seq2seq.tasks.classification.classifier import Classifier, check_texts
from seq2seq.tasks.classification.labelled import TABLES, read_labelled
from seq2seq.training.report import wants_bar
from seq2seq.training.rundir import inference_files


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seq2seq-classify", description=__doc__.split("\n")[0])
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                   help="classifier run directory (uses best.pt) or checkpoint file; "
                        "several: an ensemble")
    p.add_argument("--input", type=Path,
                   help="text file, one text a line, or a table (.tsv, .csv, .jsonl; plain "
                        "or .xz) (default stdin)")
    p.add_argument("--output", type=Path, help="written only when complete (default stdout)")
    p.add_argument("--text-column", default="text",
                   help="a table's column (or JSON key) of texts (default: text)")
    p.add_argument("--probs", action="store_true",
                   help="write label<TAB>p(label 1)<TAB>p(label 2)...: every label's "
                        "probability, in labels.txt order, with 4 decimals")
    p.add_argument("--batch-size", type=int, help="texts scored together "
                                                  "(default: the run's decode.batch_size)")
    p.add_argument("--precision", choices=["fp32", "int8"], default="fp32",
                   help="int8: LSTMs and linear layers on int8 kernels (CPUs; lossy)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--stream", action="store_true",
                   help="answer each line as it arrives (the default when stdin is a terminal)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p.parse_args(argv)


def is_table(path: Path) -> bool:
    return path.name.removesuffix(".xz").endswith(TABLES)


def read_input(path: Path | None, text_column: str = "text") -> list[str]:
    """The texts: of a table's column, a file's lines (plain or .xz) or all of stdin's.
    The first line that is not UTF-8 or is empty is named in one line."""
    if path is None:
        raw = enumerate(stdin_lines(), start=1)
        return check_texts((decode_line(line, "<stdin>", n) for n, line in raw), "<stdin>")
    input_file(path)
    if is_table(path):
        # The text column doubles as the label column: the label is ignored, and a table
        # without one reads as well. read_labelled names an empty text's file and line.
        return [text for _, text, _ in read_labelled(path, text_column, text_column)]
    return check_texts(read_lines(path), str(path))


def output_lines(labels: list[str], probs: torch.Tensor, with_probs: bool) -> list[str]:
    """Each row's most probable label; `with_probs`: then every label's probability."""
    best = probs.argmax(1).tolist()
    if not with_probs:
        return [labels[i] for i in best]
    return [labels[i] + "".join(f"\t{p:.4f}" for p in row)
            for i, row in zip(best, probs.tolist())]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    run_cli("seq2seq-classify", lambda: _main(args), args.debug)


def _main(args: argparse.Namespace) -> None:
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"--batch-size: at least 1 (got {args.batch_size})")
    check_not_inputs(args.output, [args.input, *inference_files(locate(args.runs))], "--output")
    c = Classifier.from_run(*args.runs, device=args.device)
    c.use_precision(args.precision)
    c.batch_size = args.batch_size or c.batch_size
    if args.input is None and args.output is None and (args.stream or sys.stdin.isatty()):
        # Interactive: one line in, one line out, flushed; a bad line ends the session.
        for number, raw in enumerate(stdin_lines(), start=1):
            line = decode_line(raw, "<stdin>", number)
            check_texts([line], "<stdin>", first=number)
            out = output_lines(c.labels, c.probabilities([line]), args.probs)
            sys.stdout.write(out[0] + "\n")
            sys.stdout.flush()
        return
    # Batch: every line is read and checked before anything is written.
    texts = read_input(args.input, args.text_column)
    probs = c.probabilities(texts, progress=wants_bar())
    write_output(args.output, output_lines(c.labels, probs, args.probs))


if __name__ == "__main__":
    main()
