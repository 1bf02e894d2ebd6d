"""Early stopping: `trainer.patience=N` ends training after N evaluations in a row that did
not raise the task's best dev metric (the one best.pt is kept on, higher is better) by more
than `trainer.min_delta` above its value at the last evaluation that did.

The count is part of the run's state (last.pt), so an interrupted run resumes with it and
stops where it would have stopped without the interruption.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class Patience:
    limit: Optional[int]  # trainer.patience; None never stops
    min_delta: float = 0.0
    stale: int = 0  # evaluations in a row without an improvement
    mark: Optional[float] = None  # the metric at the last improvement

    def count(self, value: float) -> bool:
        """Count one evaluation's metric; True where it improved on the mark."""
        if self.mark is None or value > self.mark + self.min_delta:
            self.stale, self.mark = 0, value
            return True
        self.stale += 1
        return False

    @property
    def spent(self) -> bool:
        return self.limit is not None and self.stale >= self.limit

    def state(self) -> dict:
        return {"stale": self.stale, "mark": self.mark}

    def load(self, state: Optional[dict]) -> None:
        """last.pt's count; a checkpoint from before early stopping counts from here."""
        state = state or {}
        self.stale, self.mark = state.get("stale", 0), state.get("mark")
