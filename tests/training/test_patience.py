"""Early stopping (trainer.patience, trainer.min_delta): the count, and a real run that stops
at the evaluation a reference predicts from an uninterrupted run's dev metrics, stopped
and resumed on the way."""
from __future__ import annotations

import json
import logging

import pytest
import torch

from seq2seq.config.compose import load_config
from seq2seq.training import checkpoint
from seq2seq.training.loop import train
from seq2seq.training.patience import Patience


def predicted_stop(values: list[float], patience: int, min_delta: float) -> int | None:
    """The 1-based evaluation after which training stops, written from the definition:
    stop once `patience` evaluations in a row were each no more than min_delta above the
    best value among evaluations that counted as improvements."""
    best, row = None, 0
    for i, v in enumerate(values, start=1):
        if best is not None and v - best <= min_delta:
            row += 1
            if row == patience:
                return i
        else:
            best, row = v, 0
    return None


@pytest.mark.parametrize("values,patience,min_delta,stop", [
    ([1, 2, 3, 4], 1, 0.0, None),  # always improving
    ([3, 3, 3], 2, 0.0, 3),  # equal is no improvement
    ([1, 2, 1, 2, 1, 1], 2, 0.0, 4),  # back to the best is no improvement
    ([1, 1.5, 2.1, 2.2, 2.6], 2, 0.6, 5),  # 1 -> 2.1 counts; 1.5, 2.2, 2.6 do not
    ([5, 1, 1, 1, 6, 1], 3, 0.0, 4),
])
def test_patience_counts_evaluations_without_improvement(values, patience, min_delta, stop):
    assert predicted_stop(values, patience, min_delta) == stop
    p = Patience(patience, min_delta)
    spent_at = None
    for i, v in enumerate(values, start=1):
        p.count(v)
        if p.spent and spent_at is None:
            spent_at = i
    assert spent_at == stop


def test_patience_state_round_trips_and_none_never_stops():
    p = Patience(2, 0.5)
    for v in (1.0, 1.2, 0.9):
        p.count(v)
    q = Patience(2, 0.5)
    q.load(p.state())
    assert (q.stale, q.mark, q.spent) == (2, 1.0, True)
    q.load(None)  # a checkpoint from before early stopping
    assert (q.stale, q.mark) == (0, None)
    never = Patience(None)
    for _ in range(50):
        never.count(0.0)
    assert not never.spent


def _cfg(prepared, run_dir, *extra):
    return load_config(["experiment=lm_en", "debug=smoke", f"trainer.run_dir={run_dir}",
                        f"data.prepared_dir={prepared}", "trainer.eval_every=1",
                        "trainer.precision=fp32", "trainer.tensorboard=false", *extra])


def _dev_ppl(run_dir) -> list[float]:
    """The dev perplexity of each step's scheduled evaluation (trainer.eval_every=1): the
    first at its step (a run that a budget stops evaluates that step again at its end,
    which patience does not count)."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    at: dict[int, float] = {}
    for r in map(json.loads, lines):
        if "dev_ppl" in r:
            at.setdefault(r["step"], r["dev_ppl"])
    return [at[step] for step in sorted(at)]


def test_a_run_stops_at_the_predicted_evaluation_and_resumes_exactly(tmp_path, caplog):
    """A language model (best.pt on -ppl) evaluated at every step: the uninterrupted run's
    dev perplexities predict where trainer.patience=3 stops; a run stopped one step before
    and resumed stops there too, with the same weights; run again, it trains no further."""
    prepared, steps, patience, min_delta = tmp_path / "prepared", 14, 3, 1.0
    train(_cfg(prepared, tmp_path / "straight", f"trainer.max_steps={steps}"))
    history = [-p for p in _dev_ppl(tmp_path / "straight")]
    assert len(history) == steps
    stop = predicted_stop(history, patience, min_delta)
    assert stop is not None and patience < stop < steps, history  # a stop worth testing

    early = [f"trainer.max_steps={steps}", f"trainer.patience={patience}",
             f"trainer.min_delta={min_delta}"]
    train(_cfg(prepared, tmp_path / "early", *early))
    train(_cfg(prepared, tmp_path / "resumed", *early[1:], f"trainer.max_steps={stop - 1}"))
    caplog.set_level(logging.INFO)
    train(_cfg(prepared, tmp_path / "resumed", *early))
    log = caplog.text
    assert "early stopping at epoch" in log and f"step {stop}:" in log
    assert f"{patience} of trainer.patience={patience} evaluations" in log
    a, b = (checkpoint.load(tmp_path / name / "checkpoints" / "last.pt")
            for name in ("early", "resumed"))
    assert a["step"] == b["step"] == stop
    assert a["patience"] == b["patience"] and a["patience"]["stale"] == patience
    for name in a["model"]:
        torch.testing.assert_close(a["model"][name], b["model"][name], rtol=0, atol=0)
    assert _dev_ppl(tmp_path / "early") == _dev_ppl(tmp_path / "resumed") \
        == _dev_ppl(tmp_path / "straight")[:stop]

    train(_cfg(prepared, tmp_path / "early", *early))  # again: nothing more to do
    assert checkpoint.load(tmp_path / "early" / "checkpoints" / "last.pt")["step"] == stop
    assert len(_dev_ppl(tmp_path / "early")) == stop
