"""seq2seq-score: BLEU and chrF of a hypothesis file against one or more references.

    seq2seq-score runs/demo/test.hyp data/prepared/.../test.ref [MORE_REFS ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.data import read_lines
from seq2seq.metrics import bleu, chrf


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="seq2seq-score", description=__doc__.split("\n")[0])
    p.add_argument("hyp", type=Path, help="detokenised translations, one a line")
    p.add_argument("refs", type=Path, nargs="+", help="reference file(s), line-aligned")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        for path in [args.hyp, *args.refs]:
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
        hyps = list(read_lines(args.hyp))
        refs = [list(read_lines(r)) for r in args.refs]
        for path, ref in zip(args.refs, refs):
            if len(ref) != len(hyps):
                raise ValueError(f"{path} has {len(ref)} lines but {args.hyp} has {len(hyps)}")
        scores = [bleu(hyps, refs), chrf(hyps, refs)]
    except (OSError, ValueError) as exc:
        print(f"seq2seq-score: error: {exc}", file=sys.stderr)
        raise SystemExit(1)
    for score in scores:
        print(score)


if __name__ == "__main__":
    main()
