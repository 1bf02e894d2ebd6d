"""seq2seq-tag: tokens in, one tag per token out, exactly one output line per input line.

    seq2seq-tag RUN [RUN ...] [--input FILE] [--output FILE] [--format text|conllu|conll]
    echo "I saw her duck ." | seq2seq-tag runs/upos            # PRON VERB PRON NOUN PUNCT
    seq2seq-tag runs/upos --input test.conllu --format conllu --column upos
    seq2seq-tag runs/ner --input uner-test.iob2 --format conll --token-column 1 --tag-column 2
    seq2seq-tag runs/a runs/b --input tokens.txt --probs       # an ensemble; TAG:p per token

A thin shell over `seq2seq.load(run)` (a `Tagger`, the Python API).

text (the default): whitespace-tokenised lines (a file, plain or .xz, or stdin); each line's
tags, space-separated (an empty line: an empty line); --probs: `TAG:p` per token, p the
tag's probability (4 decimals). conllu / conll: the file written back with the predicted
column filled (columns.py), every other line and field as it was.

Nothing is lost: every input line is read and checked (UTF-8) before anything is written,
and --output is replaced only once complete; an error is one line naming the file and
line, and a non-zero exit. From a terminal (or with --stream), text lines are answered as
they arrive, flushed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from seq2seq.cli.common import check_not_inputs, run as run_cli, stdin_lines, write_output
from seq2seq.data.textfile import decode_line, input_file, read_lines
from seq2seq.export.locate import locate
from seq2seq.tasks.tagging.columns import fill_conll, fill_conllu
from seq2seq.tasks.tagging.tagger import Tagger
from seq2seq.training.rundir import inference_files


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seq2seq-tag", description=__doc__.split("\n")[0])
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                   help="tagger run directory (uses best.pt) or checkpoint file; several: "
                        "an ensemble averaging per-token probabilities")
    p.add_argument("--input", type=Path, help="default stdin (plain or .xz)")
    p.add_argument("--output", type=Path, help="written only when complete (default stdout)")
    p.add_argument("--format", choices=["text", "conllu", "conll"], default="text")
    p.add_argument("--column", default="upos",
                   help="conllu: the column filled (upos | xpos | misc:KEY)")
    p.add_argument("--token-column", type=int, default=0, help="conll: the tokens' column")
    p.add_argument("--tag-column", type=int,
                   help="conll: the column the tag replaces (default: appended)")
    p.add_argument("--probs", action="store_true",
                   help="text: TAG:p per token, p the tag's probability (4 decimals)")
    p.add_argument("--batch-size", type=int,
                   help="sentences tagged together (default: the run's decode.batch_size)")
    p.add_argument("--precision", choices=["fp32", "int8"], default="fp32",
                   help="int8: LSTMs and linear layers on int8 kernels (CPUs; lossy)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--stream", action="store_true",
                   help="answer each line as it arrives (the default when stdin is a terminal)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p.parse_args(argv)


def read_input(path: Optional[Path]) -> tuple[str, list[str]]:
    """(name, every line): a file's (plain or .xz) or all of stdin's, UTF-8 checked."""
    if path is None:
        return "<stdin>", [decode_line(raw, "<stdin>", n)
                           for n, raw in enumerate(stdin_lines(), start=1)]
    input_file(path)
    return str(path), list(read_lines(path))


def text_lines(tagger: Tagger, lines: list[str], probs: bool) -> list[str]:
    """Each line's tags (or TAG:p), space-separated."""
    sentences = [line.split() for line in lines]
    tags = tagger.tag(sentences)
    if not probs:
        return [" ".join(t) for t in tags]
    index = {t: i for i, t in enumerate(tagger.tags)}
    return [" ".join(f"{t}:{float(p[j, index[t]]):.4f}" for j, t in enumerate(ts))
            for ts, p in zip(tags, tagger.probabilities(sentences))]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    run_cli("seq2seq-tag", lambda: _main(args), args.debug)


def _main(args: argparse.Namespace) -> None:
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"--batch-size: at least 1 (got {args.batch_size})")
    if args.probs and args.format != "text":
        raise ValueError("--probs: with --format text only")
    check_not_inputs(args.output, [args.input, *inference_files(locate(args.runs))], "--output")
    tagger = Tagger.from_run(*args.runs, device=args.device)
    tagger.use_precision(args.precision)
    tagger.batch_size = args.batch_size or tagger.batch_size
    interactive = args.input is None and args.output is None and (
        args.stream or sys.stdin.isatty())
    if interactive and args.format == "text":
        # One line in, one line out, flushed; a bad line ends the session.
        for number, raw in enumerate(stdin_lines(), start=1):
            line = decode_line(raw, "<stdin>", number)
            sys.stdout.write(text_lines(tagger, [line], args.probs)[0] + "\n")
            sys.stdout.flush()
        return
    name, lines = read_input(args.input)  # every line checked before anything is written
    if args.format == "conllu":
        out = fill_conllu(lines, name, args.column, tagger.tag)
    elif args.format == "conll":
        out = fill_conll(lines, name, args.token_column, args.tag_column, tagger.tag)
    else:
        out = text_lines(tagger, lines, args.probs)
    write_output(args.output, out)


if __name__ == "__main__":
    main()
