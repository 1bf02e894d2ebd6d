"""seq2seq-translate: text in, translations out, exactly one output line per input line.

    seq2seq-translate RUN_DIR [--input FILE] [--output FILE] [--beam-size 12] [--nbest 1]
    echo "En el principio" | seq2seq-translate runs/demo
    seq2seq-translate runs/a runs/b/best.pt --input src.txt      # an ensemble

Lines are encoded with the same function as in training (reversed source), sorted by
length and decoded in batches, then written back in input order. An empty line gives an
empty line. With --nbest N > 1, each input line gives N lines `index ||| text ||| score`.

Nothing is lost: every input line is read and checked (UTF-8) before anything is written,
and --output is replaced only once complete; an error is one line and a non-zero exit.
From a terminal (or with --stream), each line is answered as it arrives, flushed.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Iterator

import torch

from seq2seq import checkpoint
from seq2seq.cli import run as run_cli
from seq2seq.config import DecodeConfig, TrainConfig, config_from_dict
from seq2seq.data import read_lines
from seq2seq.ensemble import Ensemble, check_shared_vocabulary
from seq2seq.model import Seq2Seq, build_model
from seq2seq.search import Hypothesis, beam_search, greedy, max_lengths
from seq2seq.tokenizer import Tokenizer


def translate(model: Seq2Seq, tok: Tokenizer, lines: list[str], decode: DecodeConfig,
              device: torch.device) -> list[list[Hypothesis]]:
    """The n-best hypotheses of every line, in input order ([] for an empty line)."""
    model.eval()
    results: list[list[Hypothesis]] = [[] for _ in lines]
    todo = [i for i, line in enumerate(lines) if line.strip()]
    src = tok.encode_source([lines[i] for i in todo]) if todo else []
    order = sorted(range(len(todo)), key=lambda j: len(src[j]))  # similar lengths together
    for start in range(0, len(order), decode.batch_size):
        chunk = order[start: start + decode.batch_size]
        seqs = [src[j] for j in chunk]
        lens = torch.tensor([len(s) for s in seqs])
        ids = torch.zeros(len(seqs), int(lens.max()), dtype=torch.long)
        for row, s in enumerate(seqs):
            ids[row, : len(s)] = torch.tensor(s)
        max_len = max_lengths(lens, decode.max_len_a, decode.max_len_b)
        hyps = _decode(model, ids.to(device), lens.to(device), max_len, decode)
        for j, h in zip(chunk, hyps):
            results[todo[j]] = h
    return results


def _decode(model, ids, lens, max_len, decode: DecodeConfig) -> list[list[Hypothesis]]:
    if decode.beam_size == 1:
        return [[Hypothesis(out, 0.0)] for out in greedy(model, ids, lens, max_len)]
    return beam_search(model, ids, lens, max_len, beam_size=decode.beam_size,
                       length_penalty=decode.length_penalty, nbest=decode.nbest)


def translate_text(model, tok: Tokenizer, lines: list[str], decode: DecodeConfig,
                   device: torch.device) -> list[str]:
    """One detokenised best translation per line."""
    return format_output(translate(model, tok, lines, decode, device), tok, nbest=1)


def load_run(path: Path, device: torch.device) -> tuple[Seq2Seq, Tokenizer, TrainConfig]:
    """Model, tokenizer and config from a run directory or a checkpoint file."""
    ckpt_path = checkpoint.find(path)
    payload = checkpoint.load(ckpt_path)
    cfg = config_from_dict(payload["config"])
    tok = Tokenizer.load(ckpt_path.parent, reverse_source=cfg.model.reverse_source)
    model = build_model(cfg.model, tok.src_vocab_size, tok.tgt_vocab_size)
    checkpoint.load_weights(model, payload["model"], ckpt_path)
    return model.to(device).eval(), tok, cfg


def load_runs(paths: list[Path], device: torch.device) -> tuple[torch.nn.Module, Tokenizer,
                                                                 TrainConfig]:
    """One run, or an ensemble of several sharing one vocabulary (decode settings: the
    first run's)."""
    loaded = [load_run(p, device) for p in paths]
    if len(loaded) == 1:
        return loaded[0]
    check_shared_vocabulary([tok for _, tok, _ in loaded], [str(p) for p in paths])
    _, tok, cfg = loaded[0]
    return Ensemble([model for model, _, _ in loaded]).eval(), tok, cfg


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seq2seq-translate", description=__doc__.split("\n")[0])
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                   help="run directory (uses best.pt) or checkpoint file; several: an ensemble")
    p.add_argument("--input", type=Path, help="text file, one sentence a line (default stdin)")
    p.add_argument("--output", type=Path, help="written only when complete (default stdout)")
    p.add_argument("--beam-size", type=int, help="default: the run's decode.beam_size")
    p.add_argument("--nbest", type=int, default=1)
    p.add_argument("--max-len-a", type=float)
    p.add_argument("--max-len-b", type=int)
    p.add_argument("--length-penalty", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--stream", action="store_true",
                   help="answer each line as it arrives (the default when stdin is a terminal)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p.parse_args(argv)


def decode_config(args: argparse.Namespace, base: DecodeConfig) -> DecodeConfig:
    given = {"beam_size": args.beam_size, "nbest": args.nbest, "max_len_a": args.max_len_a,
             "max_len_b": args.max_len_b, "length_penalty": args.length_penalty,
             "batch_size": args.batch_size}
    cfg = dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})
    if cfg.beam_size < 1 or not 1 <= cfg.nbest <= cfg.beam_size or cfg.batch_size < 1:
        raise ValueError(f"need beam size >= 1, 1 <= nbest <= beam size, batch size >= 1 "
                         f"(got {cfg.beam_size}, {cfg.nbest}, {cfg.batch_size})")
    return cfg


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def read_input(path: Path | None) -> list[str]:
    """Input lines: a file (plain or .xz) or all of stdin; invalid UTF-8 names the line."""
    if path is None:
        return [_decode_line(raw, "<stdin>", n) for n, raw in enumerate(_stdin_lines(), 1)]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such input file")
    return list(read_lines(path))


def _stdin_lines() -> Iterator[bytes]:
    """Raw lines of stdin as they arrive, split at b"\\n" only (as files are)."""
    while raw := sys.stdin.buffer.readline():
        yield raw.rstrip(b"\n")


def _decode_line(raw: bytes, name: str, number: int) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}:{number}: invalid UTF-8 ({exc.reason})") from None


def warn_long_lines(tok: Tokenizer, lines: list[str], max_len: int, name: str,
                    first: int = 1) -> None:
    """Lines longer than training ever saw are decoded anyway; say which ones."""
    for number, ids in enumerate(tok.encode_source(lines), start=first):
        if len(ids) - 1 > max_len:  # ids end with eos
            print(f"seq2seq-translate: warning: {name}:{number}: {len(ids) - 1} pieces, longer "
                  f"than the {max_len} of training; decoded anyway", file=sys.stderr)


def format_output(hyps: list[list[Hypothesis]], tok: Tokenizer, nbest: int,
                  first_index: int = 0) -> list[str]:
    if nbest == 1:
        texts = tok.decode_target([h[0].ids if h else [] for h in hyps])
        return [t if h else "" for t, h in zip(texts, hyps)]
    out = []
    for i, h in enumerate(hyps, start=first_index):
        for hyp in h:
            out.append(f"{i} ||| {tok.decode_target([hyp.ids])[0]} ||| {hyp.score:.4f}")
        out.extend(f"{i} |||  ||| -inf" for _ in range(nbest - len(h)))
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    run_cli("seq2seq-translate", lambda: _main(args), args.debug)


def _main(args: argparse.Namespace) -> None:
    device = pick_device(args.device)
    model, tok, cfg = load_runs(args.runs, device)
    decode = decode_config(args, cfg.decode)
    if args.input is None and args.output is None and (args.stream or sys.stdin.isatty()):
        # Interactive: one line in, one line out, flushed; a bad line ends the session.
        for number, raw in enumerate(_stdin_lines(), start=1):
            line = _decode_line(raw, "<stdin>", number)
            warn_long_lines(tok, [line], cfg.data.max_len, "<stdin>", first=number)
            out = format_output(translate(model, tok, [line], decode, device), tok,
                                decode.nbest, first_index=number - 1)
            sys.stdout.write("".join(o + "\n" for o in out))
            sys.stdout.flush()
        return
    # Batch: every line is read and checked before anything is written.
    lines = read_input(args.input)
    warn_long_lines(tok, lines, cfg.data.max_len, str(args.input or "<stdin>"))
    out = format_output(translate(model, tok, lines, decode, device), tok, decode.nbest)
    text = "".join(line + "\n" for line in out)
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        checkpoint.write_text_atomic(args.output, text)


if __name__ == "__main__":
    main()
