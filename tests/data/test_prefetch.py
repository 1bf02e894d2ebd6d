"""Collation in a background thread: the same batches in the same order, errors raised in
the loop, and a loop that stops early leaves no thread behind."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from seq2seq.data.corpus import collate
from seq2seq.data.prefetch import Prefetcher

CPU = torch.device("cpu")


def _collate(index: np.ndarray):
    return collate([[int(i) + 4, 3] for i in index], [[int(i) + 4] for i in index])


def _collators() -> int:
    return sum(t.name == "seq2seq-collate" for t in threading.enumerate())


def test_yields_every_batch_in_order():
    indices = [np.array([i] * (i % 3 + 1)) for i in range(20)]
    got = list(Prefetcher(_collate, CPU)(indices))
    assert len(got) == 20
    for index, b in zip(indices, got):
        assert torch.equal(b.src.values, _collate(index).src.values)


def test_stopping_early_ends_the_thread():
    before = _collators()
    for n, _ in enumerate(Prefetcher(_collate, CPU, depth=1)([np.array([i]) for i in range(50)])):
        if n == 3:
            break
    deadline = time.monotonic() + 2
    while _collators() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _collators() == before


def test_an_error_in_collation_is_raised_in_the_loop():
    def bad(index):
        if index[0] == 2:
            raise ValueError("train/src.ids: truncated")
        return _collate(index)
    seen = []
    with pytest.raises(ValueError, match="truncated"):
        for b in Prefetcher(bad, CPU)([np.array([i]) for i in range(5)]):
            seen.append(int(b.src.values[0, 0]) - 4)
    assert seen == [0, 1]


def test_waiting_is_measured():
    def slow(index):
        time.sleep(0.02)
        return _collate(index)
    p = Prefetcher(slow, CPU)
    list(p([np.array([i]) for i in range(5)]))
    assert 0.05 < p.waited < 1.0  # the consumer does nothing: it waits for each batch
