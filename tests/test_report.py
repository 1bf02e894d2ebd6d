"""What training reports: a live bar on a terminal, plain lines under CI or in a pipe,
TensorBoard scalars, and an ETA from whichever budget ends first."""
from __future__ import annotations

import fcntl
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from conftest import run_cli
from seq2seq.optim import Budget


@pytest.mark.parametrize("progress,elapsed,step,expected", [
    (1.0, 10.0, 5, 0.25),  # 1 of 4 epochs
    (1.0, 60.0, 5, 0.5),  # half the time budget, ahead of the epochs
    (3.9, 300.0, 5, 1.0),  # time is up: never more than done
    (0.1, 1.0, 50, 0.5),  # half the steps
])
def test_the_budget_that_ends_first_sets_the_fraction_done(progress, elapsed, step, expected):
    budget = Budget(epochs=4, max_time=120, max_steps=100)
    assert budget.fraction(progress, elapsed, step) == pytest.approx(expected)


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
    exe = shutil.which("seq2seq-train") or str(Path(sys.executable).parent / "seq2seq-train")
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
