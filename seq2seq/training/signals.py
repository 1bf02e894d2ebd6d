"""Stopping on request: SIGINT and SIGTERM during training ask the loop to stop after the
step it is in (its checkpoint written), and the command then exits with 128 + the signal's
number (seq2seq/cli/common.py catches `Stopped`).
"""
from __future__ import annotations

import contextlib
import signal
from typing import Iterator


class Stopped(Exception):
    """A command stopped on request (a signal): not an error, but not finished either."""

    def __init__(self, message: str, exit_status: int):
        super().__init__(message)
        self.exit_status = exit_status


@contextlib.contextmanager
def signals_as_requests() -> Iterator[list[int]]:
    """SIGINT and SIGTERM only append to the list: the loop stops after the current step."""
    received: list[int] = []
    wanted = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda signum, _: received.append(signum))
                for sig in wanted}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
