"""What one worker process of seq2seq-serve --workers N does: load the runs, then search
the requests the server sends it, and send back each request's answers as soon as they
are all found.

Requests whose options allow it join a running search between its steps (continuous
batching: an endpoint's `joining(options)`, e.g. beam search of translations): a worker
keeps up to `max_items` sentences in one search and takes in new ones at every step, so
it never waits for a whole batch's answers to go out and the next requests to come in,
and a sentence that ends early is answered at once. Other requests (another task, or
options that keep attention) are searched in batches: those of the same run and options
that are waiting when the worker is free, together.

Messages (over a multiprocessing Pipe, pickled):
    server -> worker   ("search", request id, run name, items, options)  |  ("stop",)
    worker -> server   ("ready", runs)  |  ("failed", exception)         (once, at start)
                       ("answer", request id, answers, search number)
                       ("error", request id, exception, search number)
"""
from __future__ import annotations

import pickle
import signal
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable


def serve(conn, load: Callable[[], dict], threads: int, max_items: int) -> None:
    """A worker's life: ignores SIGINT and SIGTERM (the server decides when to stop, and
    stops its workers after the requests in flight have their answers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if threads > 0:
        import torch
        torch.set_num_threads(threads)
    try:
        endpoints = load()
    except BaseException as exc:  # the server raises it where it started the workers
        conn.send(("failed", exc))
        return
    conn.send(("ready", sorted(endpoints)))
    Loop(conn, endpoints, max_items).run()


@dataclass
class _Request:
    rid: int
    name: str
    items: list
    options: Hashable
    answers: list = field(default_factory=list)  # filled as items are found
    left: int = 0
    batched: bool = False  # no search joins its options: searched in a batch


class Loop:
    """Receive, admit, search a step (or a batch), answer; until stopped and idle."""

    def __init__(self, conn, endpoints: dict, max_items: int):
        self.conn, self.endpoints, self.max_items = conn, endpoints, max_items
        self.waiting: deque[_Request] = deque()  # received, not yet searching
        self.searches: dict[tuple, Any] = {}  # (run, options) -> a joining search
        self.owners: dict[tuple, dict[int, tuple[_Request, int]]] = {}  # its tags' items
        self.count = 0  # searches started: batches, and joining searches
        self.stopping = False

    def run(self) -> None:
        while not (self.stopping and not self.waiting and not self.searches):
            self.receive(block=not self.waiting and not self.searches)
            self.admit()
            self.batch()
            for key in list(self.searches):
                self.step(key)

    def receive(self, block: bool) -> None:
        try:
            while not self.stopping and (block or self.conn.poll()):
                block = False
                message = self.conn.recv()
                if message[0] == "stop":
                    self.stopping = True
                else:
                    _, rid, name, items, options = message
                    self.waiting.append(_Request(rid, name, items, options,
                                                 [None] * len(items), len(items)))
        except EOFError:  # the server is gone: nobody to answer
            self.stopping, self.waiting, self.searches = True, deque(), {}

    def admit(self) -> None:
        """Waiting requests into the joining searches of their options, while these
        hold fewer than `max_items` items; in order (a request never overtakes one of its
        own options). Those no search joins wait for `batch`."""
        held, full = deque(), set()
        while self.waiting:
            r = self.waiting.popleft()
            key = (r.name, r.options)
            if not r.batched and key not in full:
                search = self.searches.get(key) or self.endpoints[r.name].joining(r.options)
                r.batched = search is None
                if search is not None:
                    if not search.live or search.live + len(r.items) <= self.max_items:
                        self.join(key, search, r)
                        continue
                    full.add(key)
            held.append(r)
        self.waiting = held

    def join(self, key: tuple, search, r: _Request) -> None:
        try:
            tags = search.add(r.items)
        except Exception as exc:
            self.fail(r, exc)
            return
        self.count += key not in self.searches
        self.searches[key] = search
        owners = self.owners.setdefault(key, {})
        owners.update((tag, (r, i)) for i, tag in enumerate(tags))

    def batch(self) -> None:
        """The first waiting request that no search joins, with those waiting behind it
        with its run and options (up to max_items items), searched as one batch."""
        first = next((r for r in self.waiting if r.batched), None)
        if first is None:
            return
        batch, size = [], 0
        for r in list(self.waiting):
            if (r.name, r.options) == (first.name, first.options) and (
                    not batch or size + len(r.items) <= self.max_items):
                batch.append(r)
                size += len(r.items)
                self.waiting.remove(r)
        self.count += 1
        try:
            answers = self.endpoints[first.name].run([x for r in batch for x in r.items],
                                                     first.options)
        except Exception as exc:  # each request hears of it; the worker goes on
            for r in batch:
                self.fail(r, exc)
            return
        start = 0
        for r in batch:
            self.conn.send(("answer", r.rid, answers[start:start + len(r.items)], self.count))
            start += len(r.items)

    def step(self, key: tuple) -> None:
        """One step of a joining search; the requests whose items are all found answered."""
        search, owners = self.searches[key], self.owners[key]
        try:
            found = search.step()
        except Exception as exc:  # its requests hear of it; the search is dropped
            for r in {id(r): r for r, _ in owners.values()}.values():
                self.fail(r, exc)
            del self.searches[key], self.owners[key]
            return
        for tag, answer in found:
            r, i = owners.pop(tag)
            r.answers[i] = answer
            r.left -= 1
            if r.left == 0:
                self.conn.send(("answer", r.rid, r.answers, self.count))
        if not search.live:  # the next request of these options starts a fresh one
            del self.searches[key], self.owners[key]

    def fail(self, r: _Request, exc: Exception) -> None:
        """The request's error, as raised where it can be pickled (else its words)."""
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        self.conn.send(("error", r.rid, exc, self.count))
