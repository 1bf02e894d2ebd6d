"""The batcher (seq2seq/serving/batcher.py) on a recording `run`: requests queued together
are searched together, split evenly over the free searches, on asyncio's loop and on
uvloop's; each request gets its own answers."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from seq2seq.serving.batcher import Batcher, _Request, _shares


class Recorder:
    """A search that takes `seconds` and answers each item with itself doubled; it
    records the sizes of the batches it was given."""

    def __init__(self, seconds: float = 0.05):
        self.seconds, self.sizes, self.lock = seconds, [], threading.Lock()

    def __call__(self, items: list, options) -> list:
        with self.lock:
            self.sizes.append(len(items))
        time.sleep(self.seconds)
        return [2 * x for x in items]


def loops() -> list:
    out = [asyncio.new_event_loop]
    try:
        import uvloop
        out.append(uvloop.new_event_loop)
    except ImportError:  # the serve extra brings it; without it asyncio's loop only
        pass
    return out


def crowd(new_loop, batcher: Batcher, requests: list[list[int]], hold: bool) -> list:
    """Every request submitted at once, answered; `hold`: while a first search of one
    item runs, so that they queue."""
    async def main():
        first = asyncio.create_task(batcher.submit([0], "o")) if hold else None
        await asyncio.sleep(0.01)
        answers = await asyncio.gather(*(batcher.submit(r, "o") for r in requests))
        if first is not None:
            await first
        return answers
    loop = new_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        batcher.close()
        loop.close()


@pytest.mark.parametrize("new_loop", loops())
def test_queued_requests_are_searched_together(new_loop):
    """32 requests that queued while the one search ran: one batch of 32, each answered
    with its own items (on uvloop too, where the batcher takes queued requests without
    a timer: batcher._next)."""
    run = Recorder()
    answers = crowd(new_loop, Batcher(run, max_items=64, quiet_ms=3), [[i] for i in range(32)],
                    hold=True)
    assert answers == [[2 * i] for i in range(32)]
    assert run.sizes == [1, 32]


@pytest.mark.parametrize("new_loop", loops())
def test_a_batch_is_shared_among_free_searches(new_loop):
    """Two free searches: 32 requests that come together go 16 and 16, not 32 and none
    (a server of 2 workers fell into that: one worker searched all 32 clients' sentences,
    the other idled, and their answers, back together, brought them back together)."""
    from concurrent.futures import ThreadPoolExecutor
    run, pool = Recorder(), ThreadPoolExecutor(2)
    batcher = Batcher(run, max_items=64, quiet_ms=3, pool=pool, concurrency=2)
    answers = crowd(new_loop, batcher, [[i, 100 + i] for i in range(32)], hold=False)
    pool.shutdown()
    assert answers == [[2 * i, 200 + 2 * i] for i in range(32)]
    assert run.sizes == [32, 32]  # 64 items in two searches


def test_shares_are_even_and_whole_requests():
    def of(sizes):
        return [_Request(list(range(n)), "o", done=None) for n in sizes]
    for sizes, n, want in (([1] * 32, 2, [16, 16]), ([1] * 5, 3, [2, 2, 1]),
                           ([3, 1, 1, 1], 2, [3, 3]), ([1, 10], 2, [11]), ([4], 1, [4])):
        parts = _shares(of(sizes), n)
        assert [sum(len(r.items) for r in p) for p in parts] == want
        assert [len(r.items) for p in parts for r in p] == sizes  # whole, in order
