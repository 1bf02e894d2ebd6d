"""seq2seq-plot: curves read back from metrics.jsonl (never from train.log's text), and a
PNG written; the log lines and the records they were printed from agree."""
from __future__ import annotations

import json
import shutil

from conftest import run_cli
from seq2seq.cli.plot import Curves, panel_keys, plot, read_curves, title

# The log lines as they read before metrics.jsonl held training records (issue 19): the
# text must not change under people's scripts and greps.
TRAIN_LINE = ("epoch %.3f step %d | loss/token %.3f ppl %.2f | lr %.4g | |g| %.2f "
              "| %.0f tgt tokens/s | data wait %.1f%%")
EVAL_LINE = "eval epoch %.2f step %d | dev ppl %.2f | dev BLEU = %.2f  (%s)"


def records(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def messages(run_dir) -> list[str]:
    """train.log without its timestamps (`2024-05-01 12:00:00,123 message`)."""
    return [line.split(" ", 2)[2] for line in (run_dir / "train.log").read_text().splitlines()]


def test_each_log_line_prints_its_record(smoke_run):
    """The training and evaluation lines of train.log are, in order, the records of
    metrics.jsonl in the old format: the same numbers, byte for byte."""
    train = [r for r in records(smoke_run["run_dir"]) if "train_loss" in r]
    evals = [r for r in records(smoke_run["run_dir"]) if "dev_ppl" in r]
    assert len(train) >= 3 and len(evals) >= 1
    assert len(train) + len(evals) == len(records(smoke_run["run_dir"]))
    logged = messages(smoke_run["run_dir"])
    assert [m for m in logged if " | loss/token " in m] == [
        TRAIN_LINE % (r["epoch"], r["step"], r["train_loss"], r["train_ppl"], r["lr"],
                      r["grad_norm"], r["tokens_per_s"], 100 * r["data_wait"]) for r in train]
    assert [m for m in logged if m.startswith("eval epoch ")] == [
        EVAL_LINE % (r["epoch"], r["step"], r["dev_ppl"], r["dev_bleu"], r["dev_bleu_signature"])
        for r in evals]


def test_metrics_jsonl_holds_a_record_per_log_line(smoke_run):
    all_records = records(smoke_run["run_dir"])
    assert [r["step"] for r in all_records] == sorted(r["step"] for r in all_records)
    for r in all_records:
        assert r["epoch"] > 0 and r["elapsed"] >= 0
        if "dev_ppl" in r:  # an evaluation: the keys it always had
            assert set(r) == {"step", "epoch", "elapsed", "dev_ppl", "dev_bleu",
                              "dev_bleu_signature"}
            assert r["dev_bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
            assert r["dev_ppl"] > 1
        else:
            assert set(r) == {"step", "epoch", "elapsed", "train_loss", "train_ppl", "lr",
                              "grad_norm", "tokens_per_s", "data_wait"}
            assert r["train_ppl"] > 1 and r["tokens_per_s"] > 0 and 0 <= r["data_wait"] <= 1


def test_curves_are_the_records_whatever_train_log_holds(smoke_run, tmp_path):
    want = records(smoke_run["run_dir"])
    train = [(r["step"], r["train_loss"]) for r in want if "train_loss" in r]
    ppl = [(r["step"], r["dev_ppl"]) for r in want if "dev_ppl" in r]
    bleu = [(r["step"], r["dev_bleu"]) for r in want if "dev_bleu" in r]
    run = tmp_path / "run"
    shutil.copytree(smoke_run["run_dir"], run)
    for log in (None, "garbage\n\x00\xff epoch 9 step 999 | loss/token 0.001 ppl 1.00\n"):
        if log is None:
            (run / "train.log").unlink()
        else:
            (run / "train.log").write_text(log)
        curves = read_curves(run)
        assert (curves["train_loss"], curves["dev_ppl"], curves["dev_bleu"]) == (train, ppl, bleu)
        assert set(curves.metrics) == {"train_loss", "dev_ppl", "dev_bleu"}
        assert panel_keys([curves]) == ["train_loss", "dev_ppl", "dev_bleu"]


def test_a_resumed_run_keeps_the_last_value_of_a_step(tmp_path):
    """Steps logged again after a resume, an old run's evaluations-only file, a line cut
    short by a crash: the last record of each step counts, the rest are skipped."""
    run = tmp_path / "run"
    run.mkdir()
    lines = [{"step": 2, "epoch": 0.1, "elapsed": 1.0, "train_loss": 5.0},
             {"step": 4, "epoch": 0.2, "elapsed": 2.0, "train_loss": 4.0},
             {"step": 4, "epoch": 0.2, "elapsed": 2.5, "dev_ppl": 50.0},  # no BLEU scored
             # stopped before last.pt was written at step 4: resumed from step 2
             {"step": 4, "epoch": 0.2, "elapsed": 3.0, "train_loss": 3.5},
             {"step": 4, "epoch": 0.2, "elapsed": 3.5, "dev_ppl": 40.0, "dev_bleu": 1.5,
              "dev_bleu_signature": "nrefs:1"}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines)
                                       + '{"step": 6, "train_lo')
    curves = read_curves(run)
    assert curves.metrics == {"train_loss": [(2, 5.0), (4, 3.5)], "dev_ppl": [(4, 40.0)],
                              "dev_bleu": [(4, 1.5)]}
    (run / "metrics.jsonl").write_text(json.dumps(lines[2]) + "\n")  # before training records
    curves = read_curves(run)
    assert curves.metrics == {"dev_ppl": [(4, 50.0)]} and curves["train_loss"] == []
    assert panel_keys([curves]) == ["train_loss", "dev_ppl"]  # the training panel empty


def test_plot_writes_a_png_of_several_runs(smoke_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(smoke_run["run_dir"], other)
    out = tmp_path / "both.png"
    result = run_cli("seq2seq-plot", smoke_run["run_dir"], other, "--output", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    nothing = tmp_path / "nothing"
    result = run_cli("seq2seq-plot", nothing, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"seq2seq-plot: error: {nothing / 'metrics.jsonl'}: "
                                     f"no such file (is {nothing} a run directory?)")
    nothing.mkdir()
    (nothing / "metrics.jsonl").write_text('{"step": 2, "tra')  # cut short before its end
    result = run_cli("seq2seq-plot", nothing, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"seq2seq-plot: error: {nothing / 'metrics.jsonl'}: "
                                     "no training or evaluation records yet")


def test_a_run_with_no_curve_yet_plots_without_warnings(tmp_path):
    """Stopped before its first log line: empty panels, no legend warning, still a PNG."""
    import warnings

    out = tmp_path / "empty.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot([Curves("early")], out)
        plot([Curves("early", {"dev_ppl": [(10, 50.0)]})], tmp_path / "one.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def png_width(path) -> int:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big")  # IHDR: width, then height


def test_a_classifier_run_draws_its_own_metrics(tmp_path):
    """Training loss, then dev accuracy, macro-F1 and loss: the panels are the metrics the
    records hold, not translation's perplexity and BLEU."""
    run = tmp_path / "classifier"
    run.mkdir()
    lines = [{"step": 50, "epoch": 0.5, "elapsed": 3.0, "train_loss": 0.69, "train_ppl": 2.0,
              "lr": 0.001, "grad_norm": 1.5, "tokens_per_s": 900.0, "data_wait": 0.01},
             {"step": 100, "epoch": 1.0, "elapsed": 6.0, "train_loss": 0.52, "train_ppl": 1.7,
              "lr": 0.001, "grad_norm": 1.2, "tokens_per_s": 950.0, "data_wait": 0.01},
             {"step": 100, "epoch": 1.0, "elapsed": 7.0, "dev_loss": 0.55,
              "dev_accuracy": 71.5, "dev_macro_f1": 70.9}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    curves = read_curves(run)
    assert curves.metrics == {"train_loss": [(50, 0.69), (100, 0.52)], "dev_loss": [(100, 0.55)],
                              "dev_accuracy": [(100, 71.5)], "dev_macro_f1": [(100, 70.9)]}
    keys = panel_keys([curves])
    assert keys == ["train_loss", "dev_accuracy", "dev_macro_f1", "dev_loss"]
    assert [title(k) for k in keys] == ["training loss (per token; a classifier's per text)",
                                        "dev accuracy (%)", "dev macro-F1",
                                        "dev loss per sentence"]
    out = tmp_path / "curves.png"
    result = run_cli("seq2seq-plot", run, "--output", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert png_width(out) == 4 * 500  # four panels of 5 inches at 100 dpi


def test_panels_of_unknown_and_mixed_metrics(tmp_path):
    """An unknown dev_<name> gets "dev <name>" after the known ones; signatures are not
    metrics; runs of different kinds draw the union of their panels."""
    run = tmp_path / "run"
    run.mkdir()
    record = {"step": 10, "epoch": 0.1, "elapsed": 1.0, "dev_ppl": 9.0, "dev_bleu": 2.0,
              "dev_bleu_signature": "nrefs:1", "dev_chrf": 20.0, "dev_chrf_signature": "nc:6"}
    (run / "metrics.jsonl").write_text(json.dumps(record) + "\n")
    translation = read_curves(run)
    assert panel_keys([translation]) == ["train_loss", "dev_ppl", "dev_bleu", "dev_chrf"]
    assert title("dev_chrf") == "dev chrf"
    classifier = Curves("classifier", {"train_loss": [(5, 0.7)], "dev_accuracy": [(5, 60.0)]})
    both = panel_keys([classifier, translation])
    assert both == ["train_loss", "dev_ppl", "dev_bleu", "dev_accuracy", "dev_chrf"]
    plot([classifier, translation], tmp_path / "both.png")
    assert png_width(tmp_path / "both.png") == 5 * 500


def test_a_run_keeps_its_colour_in_panels_where_another_run_is_missing(tmp_path, monkeypatch):
    """Runs are told apart by colour, and the legend is drawn in one panel only: a run
    missing from a panel must not shift the colours of the runs after it."""
    import matplotlib.pyplot as plt
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure plot() draws
    nolm = Curves("classifier", {"train_loss": [(1, 0.7)], "dev_accuracy": [(1, 60.0)]})
    lm = Curves("lm", {"train_loss": [(1, 5.0)], "dev_ppl": [(1, 50.0)]})
    plot([nolm, lm], tmp_path / "x.png")
    colours = {(ax.get_title(), line.get_label()): line.get_color()
               for ax in figures[0].axes for line in ax.get_lines()}
    assert colours[(title("dev_ppl"), "lm")] == colours[(title("train_loss"), "lm")] == "C1"
    assert colours[(title("dev_accuracy"), "classifier")] == "C0"
