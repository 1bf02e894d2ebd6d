"""Searches in worker processes (seq2seq-serve --workers N): N copies of the runs, each
searching on its own threads, while the server's process parses requests and answers
them. In one process the event loop and the search share one interpreter lock and the
search's threads spin against the event loop's; on 2 cores two one-thread workers
searched 1.6x the sentences a second of one process (docs/benchmarks.md).

Each request goes at once to the worker with the fewest items in flight, which searches
it in a search that items join between steps, or in a batch (seq2seq/serving/worker.py);
the server's process gathers nothing itself. Each worker is a fresh interpreter
(spawned: torch's thread pools do not survive a fork) that loads every run's endpoint
through `load` (a picklable callable, run once in it). A thread per worker sends it its
requests (a large upload never blocks the event loop) and one reads its answers.
"""
from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import queue
import threading
from typing import Any, Callable, Hashable, Sequence

from seq2seq.serving.worker import serve


class Workers:
    """`count` worker processes, each holding the runs `load` returns, searching up to
    `max_items` items at a time on `threads` threads."""

    def __init__(self, load: Callable[[], dict], count: int, threads: int = 1,
                 max_items: int = 64):
        self.count = count
        ctx = multiprocessing.get_context("spawn")
        self.workers = [_Worker(ctx, load, threads, max_items) for _ in range(count)]
        for w in self.workers:  # every worker loads now, not at the first request
            w.started()

    def dispatcher(self, name: str) -> "Dispatcher":
        """What the server submits the run `name`'s requests to."""
        return Dispatcher(self, name)

    def least_busy(self) -> "_Worker":
        return min(self.workers, key=lambda w: w.items)

    def close(self) -> None:
        """Each worker answers what it holds, then exits."""
        for w in self.workers:
            w.stop()
        for w in self.workers:
            w.join()


class Dispatcher:
    """The batcher's interface (`submit`, `counts`, `close`) for a run searched in the
    workers."""

    def __init__(self, workers: Workers, name: str):
        self.workers, self.name = workers, name
        self.counts = {"requests": 0, "batches": 0, "items": 0}  # searched so far

    async def submit(self, items: Sequence[Any], options: Hashable) -> list:
        """The answers to `items` (one each, in order), searched with `options`."""
        self.counts["requests"] += 1
        self.counts["items"] += len(items)
        worker = self.workers.least_busy()
        answers = await worker.submit(self.name, list(items), options)
        self.counts["batches"] = sum(w.searches for w in self.workers.workers)
        return answers

    def close(self) -> None:
        pass  # the workers are closed by their owner


class _Worker:
    _ids = itertools.count()

    def __init__(self, ctx, load: Callable[[], dict], threads: int, max_items: int):
        self.conn, theirs = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(theirs, load, threads, max_items),
                                   daemon=True)
        self.process.start()
        theirs.close()
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        self.pending: dict[int, tuple[asyncio.Future, int]] = {}  # request id -> its items
        self.items = 0  # in flight
        self.searches = 0  # the worker's count of searches started, as last heard
        self.loop: asyncio.AbstractEventLoop | None = None
        self.threads: list[threading.Thread] = []

    def started(self) -> None:
        """Waits for the worker to load its runs (raising what failed there)."""
        try:
            kind, what = self.conn.recv()
        except EOFError:
            raise RuntimeError("a worker process exited while loading its runs") from None
        if kind == "failed":
            raise what
        self.threads = [threading.Thread(target=f, daemon=True, name=f"worker-{f.__name__}")
                        for f in (self._send, self._read)]
        for t in self.threads:
            t.start()

    async def submit(self, name: str, items: list, options: Hashable) -> list:
        self.loop = asyncio.get_running_loop()
        rid = next(self._ids)
        done = self.loop.create_future()
        self.pending[rid] = (done, len(items))
        self.items += len(items)
        self.outbox.put(("search", rid, name, items, options))
        return await done

    def _send(self) -> None:
        while True:
            message = self.outbox.get()
            try:
                self.conn.send(message)
            except OSError:  # the worker is gone: _read fails its requests
                return
            if message[0] == "stop":
                return

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                if self.loop is not None and not self.loop.is_closed():
                    self.loop.call_soon_threadsafe(self._lost)
                return
            if self.loop is not None:
                self.loop.call_soon_threadsafe(self._settle, message)

    def _settle(self, message: tuple) -> None:
        kind, rid, value, searches = message
        self.searches = max(self.searches, searches)
        done, n = self.pending.pop(rid)
        self.items -= n
        if done.done():  # a request that timed out is gone
            return
        if kind == "answer":
            done.set_result(value)
        else:
            done.set_exception(value)

    def _lost(self) -> None:
        for done, _ in self.pending.values():
            if not done.done():
                done.set_exception(RuntimeError("a worker process exited"))
        self.pending.clear()
        self.items = 0

    def stop(self) -> None:
        self.outbox.put(("stop",))

    def join(self) -> None:
        self.process.join()
        for t in self.threads:
            t.join(timeout=5)
