"""seq2seq-score: BLEU and chrF of a hypothesis file against one or more references.

    seq2seq-score runs/demo/test.hyp data/prepared/.../test.ref [MORE_REFS ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.cli import run as run_cli
from seq2seq.textfile import read_lines
from seq2seq.metrics import bleu, chrf


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="seq2seq-score", description=__doc__.split("\n")[0])
    p.add_argument("hyp", type=Path, help="detokenised translations, one a line")
    p.add_argument("refs", type=Path, nargs="+", help="reference file(s), line-aligned")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    run_cli("seq2seq-score", lambda: score(args.hyp, args.refs), args.debug)


def score(hyp_path: Path, ref_paths: list[Path]) -> None:
    for path in [hyp_path, *ref_paths]:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
    hyps = list(read_lines(hyp_path))
    refs = [list(read_lines(r)) for r in ref_paths]
    for path, ref in zip(ref_paths, refs):
        if len(ref) != len(hyps):
            raise ValueError(f"{path} has {len(ref)} lines but {hyp_path} has {len(hyps)}")
    for result in (bleu(hyps, refs), chrf(hyps, refs)):
        print(result)


if __name__ == "__main__":
    main()
