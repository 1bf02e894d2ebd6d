"""What training reports: a live bar on a terminal, plain lines under CI or in a pipe,
one metrics.jsonl record per log line, TensorBoard scalars, and an ETA from whichever
budget ends first."""
from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import pty
import struct
import subprocess
import termios
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import console_script, run_cli
from seq2seq.evaluation.metrics import Score
from seq2seq.training import report
from seq2seq.training.optim import Budget
from seq2seq.training.rundir import RunDir


@pytest.mark.parametrize("progress,elapsed,step,expected", [
    (1.0, 10.0, 5, 0.25),  # 1 of 4 epochs
    (1.0, 60.0, 5, 0.5),  # half the time budget, ahead of the epochs
    (3.9, 300.0, 5, 1.0),  # time is up: never more than done
    (0.1, 1.0, 50, 0.5),  # half the steps
])
def test_the_budget_that_ends_first_sets_the_fraction_done(progress, elapsed, step, expected):
    budget = Budget(epochs=4, max_time=120, max_steps=100)
    assert budget.fraction(progress, elapsed, step) == pytest.approx(expected)


class Scalars:
    """A SummaryWriter that keeps what it is given."""

    def __init__(self):
        self.added: dict[str, tuple[float, int]] = {}

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.added[tag] = (value, step)

    def close(self) -> None:
        pass


@pytest.fixture
def reporter(tmp_path, monkeypatch, caplog):
    """A Reporter of a run in tmp_path, on a clock that reads 100 s and then what
    `clock.now` is set to, with its log lines in caplog."""
    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr(report, "time", SimpleNamespace(monotonic=lambda: clock.now))
    caplog.set_level(logging.INFO, logger="seq2seq.training.loop")
    r = report.Reporter(RunDir(tmp_path), Budget(epochs=4), log_every=2, bar=False,
                        tensorboard=False, main=True)
    r.writer, r.clock = Scalars(), clock
    return r


def jsonl(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_a_training_line_and_its_record_hold_the_same_numbers(reporter, tmp_path, caplog):
    """Two steps summed into one line, in the format the log has always had."""
    reporter.clock.now = 101.0
    reporter.step(step=1, progress=0.25, elapsed=1.0, loss=20.0, tokens=10, grad_norm=9.0,
                  lr=0.7, data_wait=0.5)
    assert not caplog.records and not (tmp_path / "metrics.jsonl").exists()  # not step 2
    reporter.clock.now = 104.0
    reporter.step(step=2, progress=0.5, elapsed=4.04, loss=30.0, tokens=30, grad_norm=3.14159,
                  lr=0.7, data_wait=1.0)
    per_token = (20.0 + 30.0) / (10 + 30)  # 40 tokens in the 4 s since the reporter began
    assert [r.getMessage() for r in caplog.records] == [
        "epoch %.3f step %d | loss/token %.3f ppl %.2f | lr %.4g | |g| %.2f "
        "| %.0f tgt tokens/s | data wait %.1f%%" % (0.5, 2, per_token, math.exp(per_token), 0.7,
                                                    3.14159, 40 / 4, 100 * 1.0 / 4)]
    assert jsonl(tmp_path) == [{"step": 2, "epoch": 0.5, "elapsed": 4.0,
                                "train_loss": pytest.approx(per_token),
                                "train_ppl": pytest.approx(math.exp(per_token)), "lr": 0.7,
                                "grad_norm": 3.14159, "tokens_per_s": pytest.approx(10.0),
                                "data_wait": pytest.approx(0.25)}]
    assert reporter.writer.added["train/loss"] == (pytest.approx(per_token), 2)
    assert set(reporter.writer.added) == {"train/loss", "train/ppl", "train/lr",
                                          "train/grad_norm", "train/tokens_per_s",
                                          "train/data_wait"}
    # the next line counts from here: its loss, tokens and waiting only
    reporter.clock.now = 106.0
    for step in (3, 4):
        reporter.step(step=step, progress=0.75, elapsed=6.0, loss=2.0, tokens=4,
                      grad_norm=1.0, lr=0.35, data_wait=1.5)
    assert jsonl(tmp_path)[-1]["train_loss"] == pytest.approx(0.5)
    assert jsonl(tmp_path)[-1]["tokens_per_s"] == pytest.approx(4.0)
    assert jsonl(tmp_path)[-1]["data_wait"] == pytest.approx(0.25)


def test_an_evaluation_line_and_its_record_hold_the_same_numbers(reporter, tmp_path, caplog):
    """Translation ({"ppl", "bleu"}) logs and records as before the metrics became a
    mapping; a language model's {"ppl"} alone, another Score under its own name."""
    bleu = Score("BLEU", 12.3456, "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0")
    chrf = Score("chrF", 40.5, "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0")
    reporter.evaluation(step=400, epoch=1.23456, elapsed=61.26, metrics={"ppl": 12.345,
                                                                          "bleu": bleu})
    reporter.evaluation(step=500, epoch=1.5, elapsed=70.0, metrics={"ppl": 40.1})
    reporter.evaluation(step=600, epoch=1.75, elapsed=80.0, metrics={"ppl": 9.0, "chrf": chrf})
    assert [r.getMessage() for r in caplog.records] == [
        "eval epoch %.2f step %d | dev ppl %.2f%s" % (1.23456, 400, 12.345, f" | dev {bleu}"),
        "eval epoch 1.50 step 500 | dev ppl 40.10",
        f"eval epoch 1.75 step 600 | dev ppl 9.00 | dev chrF = 40.50  ({chrf.signature})"]
    assert caplog.records[0].getMessage().endswith(f"dev BLEU = 12.35  ({bleu.signature})")
    assert jsonl(tmp_path) == [
        {"step": 400, "epoch": 1.23456, "elapsed": 61.3, "dev_ppl": 12.345,
         "dev_bleu": 12.3456, "dev_bleu_signature": bleu.signature},
        {"step": 500, "epoch": 1.5, "elapsed": 70.0, "dev_ppl": 40.1},
        {"step": 600, "epoch": 1.75, "elapsed": 80.0, "dev_ppl": 9.0, "dev_chrf": 40.5,
         "dev_chrf_signature": chrf.signature}]
    assert reporter.writer.added == {"dev/ppl": (9.0, 600), "dev/bleu": (12.3456, 400),
                                     "dev/chrf": (40.5, 600)}


def test_only_rank_0_writes_records(tmp_path):
    """Every rank has a Reporter and logs (the others at WARNING): one writer, one file."""
    other = report.Reporter(RunDir(tmp_path), Budget(epochs=1), log_every=1, bar=False,
                            tensorboard=False, main=False)
    other.step(step=1, progress=0.1, elapsed=1.0, loss=1.0, tokens=1, grad_norm=1.0, lr=1.0)
    assert not (tmp_path / "metrics.jsonl").exists()
    first = report.Reporter(RunDir(tmp_path), Budget(epochs=1), log_every=1, bar=False,
                            tensorboard=False, main=True)
    first.step(step=1, progress=0.1, elapsed=1.0, loss=1.0, tokens=1, grad_norm=1.0, lr=1.0)
    assert [r["step"] for r in jsonl(tmp_path)] == [1]


def _smoke(smoke_run, run_dir: Path) -> list[str]:
    return ["debug=smoke", f"trainer.run_dir={run_dir}",
            f"data.prepared_dir={smoke_run['prepared_dir']}", "trainer.max_steps=30"]


def test_under_ci_the_log_has_no_bar(smoke_run, tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = run_cli("seq2seq-train", *_smoke(smoke_run, tmp_path / "run"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "\r" not in result.stderr and "ETA" not in result.stderr
    assert " step 30 | loss/token " in result.stderr


def test_on_a_terminal_a_bar_moves(smoke_run, tmp_path):
    exe = console_script("seq2seq-train")
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"OMP_NUM_THREADS": "1"}
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # a terminal's size
    proc = subprocess.Popen([exe, *_smoke(smoke_run, tmp_path / "run"), "trainer.log_every=10"],
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=follower,
                            stderr=follower, env=env)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the pty closes when the process ends
            break
        if not chunk:
            break
        shown += chunk
    assert proc.wait(timeout=300) == 0, shown.decode(errors="replace")[-3000:]
    text = shown.decode(errors="replace")
    assert text.replace("\r\n", "\n").count("\r") >= 2, text[-2000:]  # redrawn in place
    assert "training" in text and "tok/s" in text and "ETA" in text and "lr " in text
    assert "| epoch " in text and "| , epoch" not in text  # the bar's own fields, clean
    assert " step 30 | loss/token " in text  # log lines still come, above the bar
