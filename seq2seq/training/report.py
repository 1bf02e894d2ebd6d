"""What a training run reports while it trains, and where.

- the log (`train.log` and the console): a line every `log_every` steps and at each
  evaluation;
- a live progress bar (tqdm) on a terminal: epoch, step, loss, perplexity, lr, tokens/s
  and the time left, from the time budget or the epochs, whichever ends first. When
  stderr is not a terminal or `CI` is set there is no bar, only the log lines, so
  captured logs hold no carriage-return noise;
- `metrics.jsonl`, for scripts and `seq2seq-plot`: one JSON object per log line, with the
  numbers the line prints; a training record every `log_every` steps,
      {"step", "epoch", "elapsed", "train_loss" (per token), "train_ppl", "lr",
       "grad_norm", "tokens_per_s", "data_wait" (share of the time waiting for batches)}
  and an evaluation record at each evaluation, "dev_<name>" per dev metric:
      {"step", "epoch", "elapsed", "dev_ppl", "dev_bleu", "dev_bleu_signature"}
  (a Score adds its sacrebleu signature; a language model has "dev_ppl" only; a
  classifier's loss and tokens are per text, its evaluation "dev_loss", "dev_accuracy",
  "dev_macro_f1", "dev_confusion"). Readers tell them apart by "train_loss" and the
  "dev_" keys; `epoch` is exact, `elapsed` in seconds;
- TensorBoard scalars in `tensorboard/` when the package is installed
  (`pip install 'seq2seq[tensorboard]'`; `trainer.tensorboard=false` turns it off).
"""
from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Callable, Mapping

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from seq2seq.evaluation.metrics import LabelScores, Score, reported
from seq2seq.training import checkpoint
from seq2seq.training.optim import Budget
from seq2seq.training.rundir import RunDir

log = logging.getLogger("seq2seq.training.loop")


_WHEN = ("step", "epoch", "elapsed")  # the keys every record starts with


def train_line(record: dict, unit: str = "token") -> str:
    """The log line of a training record: the record is what metrics.jsonl keeps and
    seq2seq-plot reads; this text is only for people (`data_wait`, a share, as %). `unit`:
    what the loss is summed over (a target token; a classifier's text)."""
    return ("epoch %.3f step %d | loss/%s %.3f ppl %.2f | lr %.4g | |g| %.2f "
            "| %.0f %ss/s | data wait %.1f%%") % (
        record["epoch"], record["step"], unit, record["train_loss"], record["train_ppl"],
        record["lr"], record["grad_norm"], record["tokens_per_s"],
        "tgt token" if unit == "token" else unit, 100 * record["data_wait"])


def wants_bar() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


class Reporter:
    """Accumulates loss and tokens between log lines; writes every report of a run."""

    def __init__(self, run_dir: RunDir, budget: Budget, log_every: int, *,
                 bar: bool, tensorboard: bool, main: bool, unit: str = "token"):
        """`main`: whether this process writes metrics.jsonl (rank 0, as for the log file:
        every rank has a Reporter). `unit`: what a loss term is (train_line's)."""
        self.dir, self.budget, self.log_every, self.unit = run_dir, budget, log_every, unit
        self.main = main
        self.loss, self.tokens, self.since = 0.0, 0, time.monotonic()
        self.waited_before = 0.0  # seconds waiting for data, up to the last log line
        # postfix as a one-item list: tqdm prints it as is (a string would get ", " before it)
        self.bar = (tqdm(total=1000, bar_format="{l_bar}{bar}| {postfix[0]}", postfix=[""],
                         dynamic_ncols=True, mininterval=0.5, desc="training") if bar else None)
        self.writer = _summary_writer(run_dir) if tensorboard else None

    @contextlib.contextmanager
    def active(self):
        """Log lines print above the bar rather than through it."""
        with logging_redirect_tqdm() if self.bar else contextlib.nullcontext():
            try:
                yield self
            finally:
                self.close()

    def step(self, *, step: int, progress: float, elapsed: float, loss: float, tokens: int,
             grad_norm: float, lr: float, data_wait: float = 0.0) -> None:
        """After each optimiser step: the bar moves; every log_every steps, a line.
        `data_wait`: seconds the loop has waited for batches so far, in all."""
        self.loss, self.tokens = self.loss + loss, self.tokens + tokens
        per_token = self.loss / max(self.tokens, 1)
        seconds = max(time.monotonic() - self.since, 1e-9)
        speed = self.tokens / seconds
        ppl = math.exp(min(per_token, 50))
        if self.bar is not None:
            self._move_bar(step, progress, elapsed, per_token, ppl, lr, speed)
        if step % self.log_every:
            return
        waiting = (data_wait - self.waited_before) / seconds  # share of the time, not steps
        record = {"step": step, "epoch": progress, "elapsed": round(elapsed, 1),
                  "train_loss": per_token, "train_ppl": ppl, "lr": lr, "grad_norm": grad_norm,
                  "tokens_per_s": speed, "data_wait": waiting}
        log.info("%s", train_line(record, self.unit))
        self._append(record)
        # train_loss -> train/loss, lr -> train/lr, ...
        self._scalars(step, {"train/" + key.removeprefix("train_"): value
                             for key, value in record.items() if key not in _WHEN})
        self.loss, self.tokens, self.since = 0.0, 0, time.monotonic()
        self.waited_before = data_wait

    def _move_bar(self, step, progress, elapsed, per_token, ppl, lr, speed) -> None:
        done = self.budget.fraction(progress, elapsed, step)
        left = elapsed * (1 - done) / done if done > 0 else float("nan")
        per = "tok" if self.unit == "token" else self.unit  # a classifier's: texts/s
        self.bar.n = int(1000 * done)
        self.bar.postfix[0] = (f"epoch {progress:.2f} step {step} loss {per_token:.3f} "
                               f"ppl {ppl:.1f} lr {lr:.3g} {speed:.0f} {per}/s "
                               f"ETA {_clock(left)}")
        self.bar.update(0)  # redraws at most every mininterval

    def evaluation(self, *, step: int, epoch: float, elapsed: float,
                   metrics: Mapping[str, float | Score | LabelScores]) -> None:
        """After an evaluation: `metrics` by name, e.g. {"ppl": 12.3, "bleu": Score}. A
        float logs as `dev ppl 12.30` and is recorded as `dev_ppl`; a Score logs as
        `dev BLEU = 12.34  (signature)` and is recorded as `dev_bleu`, `dev_bleu_signature`;
        LabelScores (a classifier's) as `dev_accuracy`, `dev_macro_f1`, `dev_confusion`."""
        record: dict = {"step": step, "epoch": epoch, "elapsed": round(elapsed, 1)}
        shown, scalars = [], {}
        for name, value in metrics.items():
            part = reported(name, value)
            record.update(part.record)
            scalars.update(part.scalars)
            shown.append(part.text)
        log.info("%s", " | ".join([f"eval epoch {epoch:.2f} step {step}", *shown]))
        self._append(record)
        self._scalars(step, {f"dev/{name}": value for name, value in scalars.items()})

    def _append(self, record: dict) -> None:
        """One line of metrics.jsonl, from the main process only (each rank has a Reporter).
        A step whose |g| overflowed (fp16) writes JSON's common extension `Infinity`, as
        `NaN` for a loss gone wrong: Python's json reads both, strict parsers do not."""
        if self.main:
            with open(self.dir.metrics, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def _scalars(self, step: int, values: dict[str, float]) -> None:
        if self.writer is not None:
            for tag, value in values.items():
                self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


class LogFile(logging.handlers.MemoryHandler):
    """train.log, opened only once the run directory is known to be this run's (training/loop.py
    checks it first, and a refused command leaves it untouched): the lines logged before
    `open` are held, then written in order; after it, each line as it comes."""

    def __init__(self):
        super().__init__(capacity=1 << 30, flushLevel=logging.CRITICAL + 1)

    def open(self, path: Path) -> None:
        target = logging.FileHandler(path, encoding="utf-8")
        target.setFormatter(self.formatter)  # basicConfig's format, set on this handler
        self.setTarget(target)
        self.flush()

    def shouldFlush(self, record: logging.LogRecord) -> bool:
        return self.target is not None

    def close(self) -> None:
        target = self.target
        super().close()  # flushes what is held into the file, if one was opened
        if target is not None:
            target.close()


# A log line of a record (train_line's, evaluation's), after asctime: "epoch 1.250 step 40 |"
_RECORD_LINE = re.compile(r"^\S+ \S+ (?:eval )?epoch [0-9.]+ step ([0-9]+) \|")


def rewind(run_dir: RunDir, step: int) -> int:
    """Drop the records of steps after `step` (those a resumed run takes again, after a
    kill between checkpoints) from metrics.jsonl and train.log's record lines, each file
    replaced atomically; returns how many lines went."""
    def in_log(line: str) -> bool:
        match = _RECORD_LINE.match(line)
        return match is None or int(match.group(1)) <= step
    return (_keep_lines(run_dir.metrics, lambda line: _record_step(line) <= step)
            + _keep_lines(run_dir.log, in_log))


def _keep_lines(path: Path, keep: Callable[[str], bool]) -> int:
    if not path.is_file():
        return 0
    lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines(True)
    kept = [line for line in lines if keep(line)]
    if len(kept) < len(lines):
        checkpoint.write_bytes_atomic(path, "".join(kept).encode("utf-8", "surrogateescape"))
    return len(lines) - len(kept)


def _record_step(line: str) -> int:
    """A metrics.jsonl line's step (a torn last line, from a kill mid-write: past any)."""
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return 1 << 62


def _summary_writer(run_dir: RunDir):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # an optional dependency: say once how to get it
        log.info("TensorBoard not installed (pip install 'seq2seq[tensorboard]'): no events")
        return None
    return SummaryWriter(log_dir=str(run_dir.tensorboard), flush_secs=30)


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}"
