"""seq2seq-train: compose the config from the command line, then run the one training loop
(seq2seq/training/loop.py) on this process's share of the ranks.

    seq2seq-train experiment=bible_demo trainer.run_dir=runs/demo
    seq2seq-train debug=smoke                                 # any run, shrunk to seconds
    torchrun --standalone --nproc_per_node=2 -m seq2seq.cli.train experiment=bible_demo

Running the same command again resumes from <run_dir>/checkpoints/last.pt.
Every key and its default: the README's config reference (`python -m seq2seq.config.reference`
prints it); each group's files are in seq2seq/conf/. `--debug` shows tracebacks.
"""
from __future__ import annotations

import logging
import sys

import datasets

from seq2seq.cli.common import run as run_cli, usage_if_asked, wants_debug
from seq2seq.config.compose import cli_config
from seq2seq.training import distributed
from seq2seq.training.loop import train
from seq2seq.training.report import LogFile, wants_bar


def main(argv: list[str] | None = None) -> None:
    argv, debug = wants_debug(sys.argv[1:] if argv is None else argv)
    usage_if_asked(argv, __doc__)
    cfg = cli_config(argv, "seq2seq-train")
    ranks = distributed.from_environment()
    if not (ranks.main and wants_bar()):  # on a terminal: sentences done while preparing
        datasets.disable_progress_bars()
    # one log: the other ranks print warnings and errors only
    log_file = LogFile() if ranks.main else None
    logging.basicConfig(level=logging.INFO if ranks.main else logging.WARNING,
                        format="%(asctime)s %(message)s",
                        handlers=[logging.StreamHandler(), *([log_file] if log_file else [])])
    try:
        run_cli("seq2seq-train", lambda: train(cfg, ranks, log_file), debug)
    finally:
        distributed.stop()


if __name__ == "__main__":
    main()
