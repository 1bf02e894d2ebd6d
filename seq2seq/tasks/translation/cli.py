"""seq2seq-translate: text in, translations out, exactly one output line per input line.

    seq2seq-translate RUN_DIR [--input FILE] [--output FILE] [--beam-size 12] [--nbest 1]
    echo "En el principio" | seq2seq-translate runs/demo
    seq2seq-translate runs/a runs/b/checkpoints/best.pt --input src.txt   # an ensemble
    seq2seq-translate runs/attention --input src.txt --alignment --attention-png maps/

A thin shell over `seq2seq.Translator` (the Python API).

Lines are encoded with the same function as in training (reversed source), sorted by
length and decoded in batches, then written back in input order. An empty line gives an
empty line. With --nbest N > 1, each input line gives N lines `index ||| text ||| score`.
An attention model also gives, with --alignment, each output's word alignment after
` ||| ` in Pharaoh format (`0-0 1-2 2-1`: source word - target word, the source reversal
undone), and with --attention-png DIR a heat map per input line (DIR/000001.png ...).

Nothing is lost: every input line is read and checked (UTF-8) before anything is written,
and --output is replaced only once complete; an error is one line and a non-zero exit.
From a terminal (or with --stream), each line is answered as it arrives, flushed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.cli.common import (add_search_options, check_not_inputs, output_dir, run as run_cli,
                                stdin_lines, write_output)
from seq2seq.config.compose import DecodeConfig
from seq2seq.data.textfile import decode_line, input_file, read_lines
from seq2seq.data.tokenizer import source_pieces
from seq2seq.export.locate import locate
from seq2seq.tasks.translation.attention_png import draw
from seq2seq.tasks.translation.translator import Translator
from seq2seq.training.report import wants_bar
from seq2seq.training.rundir import inference_files


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seq2seq-translate", description=__doc__.split("\n")[0])
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                   help="run directory (uses best.pt) or checkpoint file; several: an ensemble")
    p.add_argument("--input", type=Path, help="text file, one sentence a line (default stdin)")
    add_search_options(p, "translation")
    p.add_argument("--max-len-a", type=float)
    p.add_argument("--length-penalty", type=float)
    p.add_argument("--alignment", action="store_true",
                   help="append ' ||| ' and the Pharaoh word alignment (attention models)")
    p.add_argument("--attention-png", type=Path, metavar="DIR",
                   help="write an attention heat map per input line here (attention models)")
    p.add_argument("--stream", action="store_true",
                   help="answer each line as it arrives (the default when stdin is a terminal)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p.parse_args(argv)


def read_input(path: Path | None) -> list[str]:
    """Input lines: a file (plain or .xz) or all of stdin; invalid UTF-8 names the line."""
    if path is None:
        return [decode_line(raw, "<stdin>", n) for n, raw in enumerate(stdin_lines(), 1)]
    return list(read_lines(input_file(path)))


def warn_long_lines(t: Translator, lines: list[str], name: str, decode: DecodeConfig,
                    first: int = 1) -> None:
    """Lines longer than training ever saw are decoded anyway; say which ones, and how
    long their translations may be."""
    max_len = t.max_train_len
    cap = f", translated into at most {decode.max_len} pieces (decode.max_len)" \
        if decode.max_len is not None else ""
    for number, ids in enumerate(t.tokenizer.encode_source(lines), start=first):
        if max_len is not None and source_pieces(len(ids)) > max_len:
            print(f"seq2seq-translate: warning: {name}:{number}: {source_pieces(len(ids))} "
                  f"pieces, longer than the {max_len} of training; decoded anyway{cap}",
                  file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    run_cli("seq2seq-translate", lambda: _main(args), args.debug)


def _main(args: argparse.Namespace) -> None:
    check_not_inputs(args.output, [args.input, *inference_files(locate(args.runs))], "--output")
    if args.attention_png is not None:
        output_dir(args.attention_png, "--attention-png")
    t = Translator.from_run(*args.runs, device=args.device)
    decode = t.settings(args.beam_size, args.nbest, length_penalty=args.length_penalty,
                        max_len_a=args.max_len_a, max_len_b=args.max_len_b,
                        max_len=args.max_len,
                        batch_size=args.batch_size, precision=args.precision)
    if args.alignment or args.attention_png is not None:
        t.check_attention("--alignment" if args.alignment else "--attention-png")
    if args.input is None and args.output is None and (args.stream or sys.stdin.isatty()):
        # Interactive: one line in, one line out, flushed; a bad line ends the session.
        for number, raw in enumerate(stdin_lines(), start=1):
            line = decode_line(raw, "<stdin>", number)
            warn_long_lines(t, [line], "<stdin>", decode, first=number)
            out = _answer(t, [line], decode, args, number)
            sys.stdout.write("".join(o + "\n" for o in out))
            sys.stdout.flush()
        return
    # Batch: every line is read and checked before anything is written.
    lines = read_input(args.input)
    warn_long_lines(t, lines, str(args.input or "<stdin>"), decode)
    write_output(args.output, _answer(t, lines, decode, args, 1, progress=wants_bar()))


def _answer(t: Translator, lines: list[str], decode: DecodeConfig, args: argparse.Namespace,
            first: int, progress: bool = False) -> list[str]:
    """The output lines of input lines `first`, `first + 1` ...; their heat maps written
    when asked."""
    attention = args.alignment or args.attention_png is not None
    hyps = t.hypotheses(lines, decode, progress=progress, attention=attention)
    if args.attention_png is not None:
        for number, found in enumerate(t.attention_maps(lines, hyps), start=first):
            if found is not None:
                draw(args.attention_png / f"{number:06d}.png", *found)
    return t.output_lines(hyps, decode.nbest, first_index=first - 1,
                          sources=lines if args.alignment else None)


if __name__ == "__main__":
    main()
