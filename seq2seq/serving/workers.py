"""Searches in worker processes (seq2seq-serve --workers N): N copies of the runs, each
searching one batch at a time on its own threads, while the server's process parses
requests and answers them. In one process the event loop and the search share one
interpreter lock and the search's threads spin against the event loop's; on 2 cores two
one-thread workers searched 1.6x the sentences a second of one process (docs/benchmarks.md).

Each worker is a fresh interpreter (spawned: torch's thread pools do not survive a fork)
that loads every run's endpoint through `load` (a picklable callable, run once in it) and
ignores SIGINT and SIGTERM: the server decides when to stop, and shuts the pool down only
after the requests in flight have their answers.
"""
from __future__ import annotations

import functools
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Hashable

_ENDPOINTS: dict = {}  # in a worker: run name -> its Endpoint


def _start(load: Callable[[], dict], threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if threads > 0:
        import torch
        torch.set_num_threads(threads)
    _ENDPOINTS.update(load())


def _run(name: str, items: list, options: Hashable) -> list[Any]:
    return _ENDPOINTS[name].run(items, options)


class Workers:
    """A pool of `count` worker processes, each holding the runs `load` returns."""

    def __init__(self, load: Callable[[], dict], count: int, threads: int = 1):
        self.count = count
        self.pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start, initargs=(load, threads))
        # every worker loads now, not at the first request; a failure shows here
        for future in [self.pool.submit(_ready) for _ in range(count)]:
            future.result()

    def runner(self, name: str) -> Callable[[list, Hashable], list]:
        """The run `name`'s `Endpoint.run`, in whichever worker is free (picklable)."""
        return functools.partial(_run, name)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _ready() -> int:
    return len(_ENDPOINTS)
