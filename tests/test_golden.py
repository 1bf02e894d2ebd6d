"""Refactorings keep what the demo computes: a recorded run of the demo's first 300 steps
(tests/golden_demo.py, recorded before the change) is repeated and compared step by step."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from golden_demo import cpu, record

GOLDEN = Path(__file__).parent / "fixtures" / "golden"


def test_the_demo_trains_as_recorded(tmp_path):
    records = [json.loads(p.read_text()) for p in sorted(GOLDEN.glob("demo_300*.json"))]
    mine = [r for r in records if r["cpu"] == cpu()]
    if not mine:  # other kernels round differently: 1e-6 holds on the same CPU
        pytest.skip(f"recorded on {', '.join(r['cpu'] for r in records)}; this CPU is {cpu()}")
    want = mine[0]
    got = record(tmp_path / "run", tmp_path / "prepared")
    assert len(got["steps"]) == len(want["steps"])
    for g, w in zip(got["steps"], want["steps"]):
        assert g[0] == w[0] and g[2] == w[2], f"step {w[0]}: another batch"
        assert g[1:] == pytest.approx(w[1:], rel=1e-6, abs=1e-9), f"step {w[0]}"
    assert [e[0] for e in got["evaluations"]] == [e[0] for e in want["evaluations"]]
    for g, w in zip(got["evaluations"], want["evaluations"]):  # [step, dev ppl, dev BLEU]
        assert g[1:] == pytest.approx(w[1:], rel=1e-6), f"evaluation at step {w[0]}"
