"""Batches collated ahead of the training step, in a background thread.

    main thread   step k-1 | step k   | step k+1 |          (forward, backward, update)
    collator        k  k+1 | k+2      | k+3      |          (gather from the token maps)

The collator gathers the next batches from the memory-mapped token arrays (into pinned
memory when training on a GPU, so the copy to the device does not block the host) while
the model trains on the current one; `waited` says how long the loop still waited for data.
Collation is numpy and torch copies, which release the GIL for the heavy part.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from seq2seq.data.corpus import Batch

_DONE = object()  # the producer's last item


class Prefetcher:
    """Yields `collate(index)` for each index in order, collated `depth` batches ahead."""

    def __init__(self, collate: Callable[[np.ndarray], Batch], device: torch.device,
                 depth: int = 2):
        self.collate, self.device, self.depth = collate, device, depth
        self.waited = 0.0  # seconds the consumer spent waiting for a batch, in all

    def __call__(self, indices: Sequence[np.ndarray]) -> Iterator[Batch]:
        ready: queue.Queue = queue.Queue(maxsize=self.depth)
        stop = threading.Event()
        worker = threading.Thread(target=self._produce, args=(indices, ready, stop),
                                  daemon=True, name="seq2seq-collate")
        worker.start()
        try:
            while True:
                start = time.perf_counter()
                item = ready.get()
                self.waited += time.perf_counter() - start
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item.to(self.device)
        finally:  # the consumer stopped early (budget, signal, error): let the worker go
            stop.set()
            while worker.is_alive():
                _drain(ready)
                worker.join(timeout=0.01)

    def _produce(self, indices: Sequence[np.ndarray], ready: queue.Queue,
                 stop: threading.Event) -> None:
        pin = self.device.type == "cuda"
        try:
            for index in indices:
                if stop.is_set():
                    return
                batch = self.collate(index)
                ready.put(batch.pinned() if pin else batch)
        except BaseException as exc:  # raised in the consumer, where the loop can report it
            ready.put(exc)
            return
        ready.put(_DONE)


def _drain(q: queue.Queue) -> None:
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass
