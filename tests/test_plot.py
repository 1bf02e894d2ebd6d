"""seq2seq-plot: curves read back from train.log and metrics.jsonl, and a PNG written."""
from __future__ import annotations

import json
import re
import shutil

from conftest import run_cli
from seq2seq.plot import read_curves


def test_curves_are_the_logged_values(smoke_run):
    log = (smoke_run["run_dir"] / "train.log").read_text()
    curves = read_curves(smoke_run["run_dir"])
    logged = [(int(s), float(v)) for s, v in re.findall(r"step (\d+) \| loss/token ([0-9.]+)", log)]
    assert curves.train == logged and len(logged) >= 3
    evals = re.findall(r"eval epoch [0-9.]+ step (\d+) \| dev ppl ([0-9.]+) \| dev BLEU = ([0-9.]+)",
                       log)
    assert [(s, round(p, 2)) for s, p in curves.ppl] == [(int(s), float(p)) for s, p, _ in evals]
    assert [(s, round(b, 2)) for s, b in curves.bleu] == [(int(s), float(b)) for s, _, b in evals]


def test_metrics_jsonl_holds_one_object_per_evaluation(smoke_run):
    records = [json.loads(line) for line in
               (smoke_run["run_dir"] / "metrics.jsonl").read_text().splitlines()]
    log = (smoke_run["run_dir"] / "train.log").read_text()
    assert len(records) == log.count(" eval epoch ") >= 1
    assert [r["step"] for r in records] == sorted(r["step"] for r in records)
    for r in records:
        assert r["dev_bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
        assert r["dev_ppl"] > 1 and r["epoch"] > 0


def test_plot_writes_a_png_of_several_runs(smoke_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(smoke_run["run_dir"], other)
    out = tmp_path / "both.png"
    result = run_cli("seq2seq-plot", smoke_run["run_dir"], other, "--output", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    result = run_cli("seq2seq-plot", tmp_path / "nothing", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"seq2seq-plot: error: {tmp_path / 'nothing' / 'train.log'}: "
                                      f"no such file (is {tmp_path / 'nothing'} a run directory?)")


def test_a_run_with_no_curve_yet_plots_without_warnings(tmp_path):
    """Stopped before its first log line: empty panels, no legend warning, still a PNG."""
    import warnings

    from seq2seq.plot import Curves, plot
    out = tmp_path / "empty.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot([Curves("early")], out)
        plot([Curves("early", ppl=[(10, 50.0)])], tmp_path / "one.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
