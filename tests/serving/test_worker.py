"""A worker process's loop (seq2seq/serving/worker.py), driven here in this process
through a stand-in for its pipe: requests that join a running beam search between its
steps, two or one at a time, up to its item limit, get what the endpoint answers each
alone; requests of other options are searched in batches; an empty text, a failing
search and a stop while busy are each answered."""
from __future__ import annotations

from collections import deque

import pytest

import seq2seq
from seq2seq.serving.endpoint import Limits
from seq2seq.serving.worker import Loop

from conftest import corpus_lines


class Pipe:
    """The worker's end: what the server sent (delivered when `deliver` says), and what
    the worker sent back."""

    def __init__(self):
        self.inbox, self.sent = deque(), []

    def poll(self) -> bool:
        return bool(self.inbox)

    def recv(self):
        if not self.inbox:
            raise EOFError
        return self.inbox.popleft()

    def send(self, message) -> None:
        self.sent.append(message)


def iterate(loop: Loop) -> None:
    """One turn of `Loop.run`."""
    loop.receive(block=False)
    loop.admit()
    loop.batch()
    for key in list(loop.searches):
        loop.step(key)


@pytest.fixture(scope="module")
def endpoint(task_runs):
    return seq2seq.load(task_runs["translation"], device="cpu").endpoint(Limits())


def options(beam: int, nbest: int = 1) -> tuple:
    return beam, nbest, 0.0, False, False


def test_requests_that_join_between_steps_get_what_they_get_alone(endpoint):
    texts = corpus_lines("dev", "es", 9)
    requests = [  # (turn it arrives, id, texts, options)
        (0, 0, texts[0:2], options(3, 2)), (0, 1, [texts[2]], options(3, 2)),
        (1, 2, [texts[3], "", texts[4]], options(3, 2)),  # an empty text among them
        (1, 3, [texts[5]], options(1)),  # greedy: searched in a batch
        (2, 4, [texts[6]], options(1)),
        (3, 5, texts[7:9], options(3, 2)), (3, 6, [texts[8]], options(4))]
    pipe = Pipe()
    loop = Loop(pipe, {"tr": endpoint}, max_items=4)
    turn, apart = 0, set()
    while turn < 4 or loop.searches or loop.waiting:
        pipe.inbox += [("search", rid, "tr", items, opts)
                       for at, rid, items, opts in requests if at == turn]
        iterate(loop)
        apart.update(len(set(s.beams.start.tolist())) for s in loop.searches.values()
                     if s.beams.live)
        turn += 1
    assert max(apart) >= 2  # guard: texts that joined at different steps searched together
    got = {rid: answers for kind, rid, answers, _ in pipe.sent if kind == "answer"}
    assert sorted(got) == list(range(len(requests))) and len(pipe.sent) == len(requests)
    for _, rid, items, opts in requests:
        for text, answer in zip(items, got[rid]):
            alone = endpoint.run([text], opts)[0]
            assert [a["text"] for a in answer] == [a["text"] for a in alone], (rid, text)
            assert [a["score"] for a in answer] == pytest.approx(
                [a["score"] for a in alone], abs=1e-5)
    assert got[2][1] == []


def test_at_most_max_items_search_at_once(endpoint):
    texts = corpus_lines("dev", "es", 6)
    pipe = Pipe()
    loop = Loop(pipe, {"tr": endpoint}, max_items=3)
    pipe.inbox += [("search", i, "tr", [text], options(3)) for i, text in enumerate(texts)]
    most = 0
    while not pipe.sent or loop.searches or loop.waiting:
        iterate(loop)
        most = max([most] + [s.live for s in loop.searches.values()])
    assert most == 3
    assert sorted(rid for _, rid, _, _ in pipe.sent) == list(range(6))


def test_a_failing_search_answers_an_error_and_the_worker_goes_on(endpoint, monkeypatch):
    pipe = Pipe()
    loop = Loop(pipe, {"tr": endpoint}, max_items=8)
    text = corpus_lines("dev", "es", 1)[0]
    pipe.inbox += [("search", 0, "tr", [text], options(3))]
    iterate(loop)
    search = next(iter(loop.searches.values()))
    monkeypatch.setattr(search, "step", lambda: 1 / 0)
    iterate(loop)
    assert [(kind, rid) for kind, rid, *_ in pipe.sent] == [("error", 0)]
    assert isinstance(pipe.sent[0][2], ZeroDivisionError) and not loop.searches
    monkeypatch.undo()
    pipe.inbox += [("search", 1, "tr", [text], options(3)), ("stop",)]
    loop.run()  # stopped: answers what it holds, then returns
    assert pipe.sent[-1][:2] == ("answer", 1) and loop.stopping
