"""seq2seq-average: one checkpoint holding the mean of a run's last K checkpoints.

    seq2seq-train ... trainer.keep_checkpoints=5        # keeps checkpoint_<step>.pt files
    seq2seq-average runs/demo --last 5        # writes runs/demo/checkpoints/averaged.pt
    seq2seq-translate runs/demo/checkpoints/averaged.pt --input src.txt

The average holds no optimizer state: it translates, and training cannot resume from it,
so it never takes the name of a training checkpoint (last.pt, best.pt, checkpoint_<step>.pt).

Averaging the parameters of the last checkpoints of one run (as fairseq's
average_checkpoints.py and Marian do) smooths the noise of the final SGD steps.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from seq2seq.cli.common import check_not_inputs, run as run_cli
from seq2seq.training import checkpoint
from seq2seq.training.averaging import average
from seq2seq.training.rundir import RunDir

__all__ = ["average", "main"]


def last_checkpoints(run_dir: Path, k: int) -> list[Path]:
    found = sorted(RunDir(run_dir).checkpoints.glob("checkpoint_*.pt"))
    if len(found) < k:
        raise FileNotFoundError(f"{run_dir}: {len(found)} checkpoint_<step>.pt files, --last {k} "
                                "asked (train with trainer.keep_checkpoints >= K)")
    return found[-k:]


# What training writes and reads in checkpoints/: an average must never take their place
TRAINING_NAMES = re.compile(r"(last|best|checkpoint_[0-9]+)\.pt")


def check_output(out: Path, inputs: list[Path]) -> None:
    """An average is for translating: written over a training checkpoint it would drop the
    optimizer state resume needs (last.pt), or join later averages (checkpoint_N.pt)."""
    if out.resolve().parent.name == "checkpoints" and TRAINING_NAMES.fullmatch(out.name):
        raise ValueError(f"{out}: --output would replace a training checkpoint (last.pt, "
                         "best.pt, checkpoint_<step>.pt); name it otherwise, e.g. averaged.pt")
    check_not_inputs(out, inputs, "--output")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="seq2seq-average", description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path, help="run directory with checkpoint_<step>.pt files")
    p.add_argument("--last", type=int, default=5, help="how many of the newest (default 5)")
    p.add_argument("--output", type=Path, help="default: RUN/checkpoints/averaged.pt")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)

    def body() -> None:
        if args.last < 1:
            raise ValueError(f"--last must be >= 1 (got {args.last})")
        paths = last_checkpoints(args.run, args.last)
        out = args.output or RunDir(args.run).checkpoint("averaged.pt")
        check_output(out, paths)
        checkpoint.save(average(paths), out)
        print(f"{out}: mean of {', '.join(p.name for p in paths)}")
    run_cli("seq2seq-average", body, args.debug)


if __name__ == "__main__":
    main()
