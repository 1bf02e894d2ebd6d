"""Captioning scores of a hypothesis file against every reference of each image: BLEU-1..4
(with signatures) and CIDEr-D, and with --sequence exact match and CER
(seq2seq/tasks/captioning/metrics.py says how each is computed).

    python -m seq2seq.tasks.captioning.score test.hyp test.refs.jsonl [--sequence] [--json OUT]

REFS.jsonl holds one JSON list of strings a line, line-aligned with HYP (one hypothesis a
line; '-' is stdin).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional

from seq2seq.cli.common import run as run_cli, stdin_lines
from seq2seq.data.textfile import decode_line, read_lines
from seq2seq.tasks.captioning.metrics import caption_scores, read_refs

PROG = "seq2seq-caption-score"


def _read_hyps(path: Path) -> list[str]:
    if str(path) == "-":
        return [decode_line(raw, "<stdin>", n) for n, raw in enumerate(stdin_lines(), 1)]
    return list(read_lines(path))


def score_files(hyp_path: Path, refs_path: Path, sequence: bool,
                json_path: Optional[Path]) -> None:
    """Print the scores of a hypothesis file; write them as JSON too when asked."""
    for path in (hyp_path, refs_path):
        if str(path) != "-" and not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
    hyps, refs = _read_hyps(hyp_path), read_refs(refs_path)
    if len(hyps) != len(refs):
        name = "<stdin>" if str(hyp_path) == "-" else str(hyp_path)
        raise ValueError(f"{name} has {len(hyps)} lines but {refs_path} has {len(refs)}")
    scores = caption_scores(hyps, refs, sequence)
    print(scores)
    if json_path is not None:
        tmp = json_path.with_name(json_path.name + ".tmp")
        tmp.write_text(json.dumps(scores.as_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, json_path)  # never a half-written file


def main(argv: Optional[list[str]] = None) -> None:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("hyp", type=Path, help="hypotheses, one a line ('-': stdin)")
    p.add_argument("refs", type=Path, help=".jsonl: one JSON list of references a line")
    p.add_argument("--sequence", action="store_true", help="add exact match and CER")
    p.add_argument("--json", type=Path, help="also write the scores here as JSON")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    run_cli(PROG, lambda: score_files(args.hyp, args.refs, args.sequence, args.json),
            args.debug)


if __name__ == "__main__":
    main()
