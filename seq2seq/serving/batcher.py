"""Requests gathered into batches: concurrent requests with the same options are searched
together, so a server under load decodes as a file does, not a sentence at a time.

    batcher = Batcher(run=endpoint.run, max_items=64, wait_ms=20, quiet_ms=3)
    answers = await batcher.submit(items, options)    # this request's answers, in order

A batch gathers requests while they keep coming: it closes when `max_items` items are in,
when none has arrived for `quiet_ms`, or `wait_ms` after its first (a lone request waits
3 ms, not a fixed window; gathering longer than that lost more in waiting than larger
batches saved: docs/benchmarks.md). The model then runs off the event loop, in one worker
thread (one model, one search at a time) or in worker processes (seq2seq/serving/
workers.py, a search each at a time), and each request gets back the answers to its own
items. Every item is searched as it would be alone (the search's results do not depend on
what a batch holds: tests/serving), so batching changes speed, never an answer.
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence


@dataclass
class _Request:
    items: Sequence[Any]
    options: Hashable
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Batcher:
    """`run(items, options)` on gathered batches: in a thread of this process, or, given
    `pool` (worker processes: workers.py), in up to `concurrency` of them at once."""

    def __init__(self, run: Callable[[list, Hashable], list], max_items: int = 64,
                 wait_ms: float = 20.0, quiet_ms: float = 3.0, pool: Executor | None = None,
                 concurrency: int = 1):
        self.run, self.max_items = run, max_items
        self.wait, self.quiet = wait_ms / 1000, quiet_ms / 1000
        self.own_pool = pool is None
        self.pool = pool or ThreadPoolExecutor(max_workers=1, thread_name_prefix="search")
        self.concurrency = concurrency
        self.slots: asyncio.Semaphore | None = None  # searches that may run at once
        self.searching: set[asyncio.Task] = set()
        self.queue: asyncio.Queue[_Request] | None = None
        self.worker: asyncio.Task | None = None
        self.counts = {"requests": 0, "batches": 0, "items": 0}  # searched so far

    async def submit(self, items: Sequence[Any], options: Hashable) -> list:
        """The answers to `items` (one each, in order), searched with `options`."""
        if self.worker is None:  # started on first use, on the server's own loop
            self.queue, self.slots = asyncio.Queue(), asyncio.Semaphore(self.concurrency)
            self.worker = asyncio.create_task(self._work())
        request = _Request(items, options)
        await self.queue.put(request)
        return await request.done

    async def _work(self) -> None:
        while True:
            await self.slots.acquire()  # a free search first: meanwhile requests queue up
            first = await self.queue.get()
            batch, held = [first], []
            deadline = time.monotonic() + self.wait
            while sum(len(r.items) for r in batch) < self.max_items:
                r = await self._next(deadline)
                if r is None:
                    break
                (batch if r.options == first.options else held).append(r)
            for r in held:  # other options: the next batch's
                self.queue.put_nowait(r)
            searches = 1
            while searches < len(batch) and not self.slots.locked():
                await self.slots.acquire()  # (at once: a slot is free)
                searches += 1
            parts = _shares(batch, searches)
            for _ in range(searches - len(parts)):  # items too uneven to fill them all
                self.slots.release()
            for part in parts:
                task = asyncio.create_task(self._answer(part))
                self.searching.add(task)  # kept until done (the loop holds tasks weakly)
                task.add_done_callback(self.searching.discard)

    async def _next(self, deadline: float) -> _Request | None:
        """The next request: one already queued at once; else one that comes within
        `quiet` (and before `deadline`), or None. Queued requests are taken without a
        timer: under uvloop a short `wait_for` can time out before the queue's getter
        runs (its timers go by the loop iteration's cached clock), which closed batches
        of 1 with 31 requests waiting."""
        if not self.queue.empty():
            return self.queue.get_nowait()
        left = min(self.quiet, deadline - time.monotonic())
        if left <= 0:
            return None
        try:
            return await asyncio.wait_for(self.queue.get(), timeout=left)
        except asyncio.TimeoutError:
            return None

    async def _answer(self, batch: list[_Request]) -> None:
        items = [x for r in batch for x in r.items]
        for key, n in (("requests", len(batch)), ("batches", 1), ("items", len(items))):
            self.counts[key] += n
        loop = asyncio.get_running_loop()
        try:
            answers = await loop.run_in_executor(self.pool, self.run, items, batch[0].options)
        except Exception as exc:  # each request hears of it; the worker goes on
            for r in batch:
                if not r.done.done():
                    r.done.set_exception(exc)
            return
        finally:
            self.slots.release()
        start = 0
        for r in batch:
            if not r.done.done():  # a request that timed out is gone
                r.done.set_result(answers[start: start + len(r.items)])
            start += len(r.items)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
        if self.own_pool:  # a shared pool of worker processes is closed by its owner
            self.pool.shutdown(wait=True)  # the search in flight finishes


def _shares(batch: list[_Request], n: int) -> list[list[_Request]]:
    """`batch` in `n` consecutive parts of about equal items, for `n` free searches: else
    a server of 2 workers falls into one search of all 32 clients' sentences while the
    other worker idles (their answers come back together, so they come back together)."""
    total, parts, part, size = sum(len(r.items) for r in batch), [], [], 0
    for r in batch:
        part.append(r)
        size += len(r.items)
        if size * n >= total * (len(parts) + 1) and len(parts) < n - 1:
            parts.append(part)
            part = []
    return parts + ([part] if part else [])
