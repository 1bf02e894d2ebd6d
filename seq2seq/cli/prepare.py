"""seq2seq-prepare: prepare a config's data (seq2seq/data/prepare.py) and print where it is.

    seq2seq-prepare [data=...] [tokenizer=...] [key=value ...]

Training runs it first when it has not been run; the same settings reuse what it wrote.
Every key and its default: the README's config reference (`python -m seq2seq.config.reference`
prints it); each group's files are in seq2seq/conf/. `--debug` shows tracebacks.
"""
from __future__ import annotations

import logging
import sys

import datasets

from seq2seq.cli.common import run as run_cli, usage_if_asked, wants_debug
from seq2seq.config.compose import cli_config
from seq2seq.data.prepare import prepare
from seq2seq.training.report import wants_bar


def main(argv: list[str] | None = None) -> None:
    argv, debug = wants_debug(sys.argv[1:] if argv is None else argv)
    usage_if_asked(argv, __doc__)
    if not wants_bar():  # on a terminal, datasets shows the sentences done at each stage
        datasets.disable_progress_bars()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = cli_config(argv, "seq2seq-prepare")
    run_cli("seq2seq-prepare", lambda: print(prepare(cfg).root), debug)


if __name__ == "__main__":
    main()
