"""The one training loop (the command is seq2seq/cli/train.py).

    seq2seq-train experiment=bible_demo trainer.run_dir=runs/demo
    seq2seq-train experiment=sutskever2014 optim.lr=0.5
    seq2seq-train debug=smoke            # any run, shrunk to seconds

Paper recipe (Sutskever et al. 2014, section 3.4): plain SGD at lr 0.7, halved every half
epoch after 5 epochs, 7.5 epochs in all; batches of 128 sentences; the gradient divided by
the batch size; gradient norm clipped at 5. Running the same command again resumes from
`<run_dir>/checkpoints/last.pt`. With torchrun, data-parallel over several processes
(`seq2seq/training/distributed.py`). What it reports, and where: `seq2seq/training/report.py`.
"""
from __future__ import annotations

import logging
import math
import random
import signal
import time
from typing import Optional

import torch
from torch.nn.parallel import DistributedDataParallel

from seq2seq.config.compose import TrainConfig, config_to_dict
from seq2seq.data.corpus import Batch
from seq2seq.data.prefetch import Prefetcher
from seq2seq.data.prepare import prepare
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.models.encoder_decoder import upgrade_weights
from seq2seq.tasks import build_task
from seq2seq.tasks.base import DevSet, Objective
from seq2seq.training import checkpoint, distributed
from seq2seq.training.distributed import Ranks
from seq2seq.training.hardware import autocast, pick_device, pick_precision
from seq2seq.training.optim import Budget, build_optimizer, gradients, paper_lr
from seq2seq.training.patience import Patience
from seq2seq.training.report import LogFile, Reporter, rewind, wants_bar
from seq2seq.training.resume import check_run_dir, write_run_files
from seq2seq.training.rundir import RunDir
from seq2seq.training.signals import Stopped, signals_as_requests

log = logging.getLogger("seq2seq.training.loop")


class Run:
    """Everything a training run holds, so that the loop below reads top to bottom."""

    def __init__(self, cfg: TrainConfig, ranks: Ranks = Ranks()):
        self.cfg, tc, self.ranks = cfg, cfg.trainer, ranks
        self.paths = RunDir(tc.run_dir)
        self.device = distributed.start(ranks, pick_device(tc.device))
        if tc.threads > 0:  # before auto's timing, which must see the run's threads
            torch.set_num_threads(tc.threads)
        self.precision = pick_precision(tc.precision, self.device, "trainer.precision")
        if not ranks.main:
            ranks.barrier()  # rank 0 prepares the data and the run directory first
        prepared = prepare(cfg)
        self.tok = Tokenizer.load(prepared.spm, reverse_source=cfg.model.reverse_source)
        self.task = build_task(cfg, self.tok, prepared)
        # memory-mapped token arrays: one copy in the page cache, whatever the ranks
        self.train = self.task.arrays(prepared.train, training=True)
        self.dev = DevSet(self.task.arrays(prepared.dev), _lines(prepared.dev_src),
                          _lines(prepared.dev_ref),
                          max_tokens=tc.max_tokens, max_sentences=tc.max_sentences)
        self.prefetch = Prefetcher(self.train.collate, self.device)
        self._epoch_batches: tuple[int, list] = (-1, [])
        torch.manual_seed(tc.seed)  # the same initial parameters on every rank
        random.seed(tc.seed)
        self.model = self.task.build_model(cfg.model, self.tok).to(self.device)
        # Nothing goes into the run directory before it is known to be this run's: a
        # refused command leaves it byte for byte as it was (seq2seq/training/resume.py).
        self.saved = check_run_dir(self.paths, cfg, prepared, self.model, ranks.world,
                                   self.device)
        if ranks.main:
            write_run_files(self.paths, cfg, prepared)
            ranks.barrier()
        self.loss: torch.nn.Module = Objective(self.model, self.task)
        if ranks.world > 1:
            self.loss = DistributedDataParallel(
                self.loss, device_ids=[self.device] if self.device.type == "cuda" else None)
        self.params = list(self.model.parameters())
        self.opt = build_optimizer(cfg.optim.name, self.params, cfg.optim.lr)
        # fp16 only: a dynamic loss scale keeps small gradients from flushing to zero
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.epoch, self.next_batch, self.step, self.best = 0, 0, 0, None
        self.patience = Patience(tc.patience, tc.min_delta)
        self.skipped = 0  # batches skipped for a non-finite loss (trainer.on_nonfinite=skip)
        self.elapsed = 0.0  # training seconds so far, over all resumptions (max_time)
        self.budget = Budget(cfg.optim.epochs, tc.max_time, tc.max_steps)
        self.n_batches = len(self.batches(0))
        log.info("model: %d parameters; %d training pairs in %d batches an epoch%s; device %s, "
                 "%s", sum(p.numel() for p in self.params), len(self.train), self.n_batches,
                 f" per rank, {ranks.world} ranks" if ranks.world > 1 else "", self.device,
                 self.precision)

    def batches(self, epoch: int) -> list:
        """This rank's share of the epoch's shuffled length buckets (cut once an epoch)."""
        if self._epoch_batches[0] != epoch:
            tc = self.cfg.trainer
            self._epoch_batches = (epoch, self.ranks.shard(self.train.batches(
                max_tokens=tc.max_tokens, max_sentences=tc.max_sentences, seed=tc.seed,
                epoch=epoch)))
        return self._epoch_batches[1]

    @property
    def progress(self) -> float:
        """Epochs done, fractional: drives the lr schedule and the stopping rule."""
        return self.epoch + self.next_batch / self.n_batches

    # ------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "scaler": self.scaler.state_dict(),
                "epoch": self.epoch, "next_batch": self.next_batch, "step": self.step,
                "best": self.best, "patience": self.patience.state(),
                "elapsed": self.elapsed, "skipped": self.skipped,
                "world": self.ranks.world, "config": config_to_dict(self.cfg),
                "rng": {"torch": torch.get_rng_state(), "python": random.getstate(),
                        "cuda": torch.cuda.get_rng_state_all()}}

    def save(self, name: str) -> None:
        if self.ranks.main:
            checkpoint.save(self.state(), self.paths.checkpoint(name))

    def resume(self) -> None:
        """The state of last.pt (checked by check_run_dir), if the run has one. What the
        run recorded after it (steps this run will take again) leaves metrics.jsonl and
        train.log, so that each step is recorded once."""
        s, self.saved = self.saved, None
        if s is None:
            return
        path = self.paths.checkpoint("last.pt")
        self.model.load_state_dict(upgrade_weights(s["model"]))
        self.opt.load_state_dict(s["optimizer"])
        if s.get("scaler"):  # fp16 runs (an older checkpoint has none)
            self.scaler.load_state_dict(s["scaler"])
        self.epoch, self.next_batch, self.step, self.best, self.elapsed, self.skipped = (
            s["epoch"], s["next_batch"], s["step"], s["best"], s["elapsed"], s.get("skipped", 0))
        self.patience.load(s.get("patience"))
        torch.set_rng_state(s["rng"]["torch"])
        random.setstate(s["rng"]["python"])
        if torch.cuda.is_available() and s["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(s["rng"]["cuda"])
        dropped = rewind(self.paths, self.step) if self.ranks.main else 0
        log.info("resumed from %s at epoch %.3f (step %d)%s", path, self.progress, self.step,
                 f"; {dropped} lines of later steps (taken again now) removed from "
                 f"{self.paths.metrics.name} and {self.paths.log.name}" if dropped else "")

    # ------------------------------------------------------------ evaluation
    def evaluate(self, reporter: Reporter, scheduled: bool = True) -> None:
        """The task's dev metrics (and its dev predictions, in translations/dev.hyp); then
        best.pt if it is the best so far, and last.pt. Rank 0 evaluates: the others wait
        for it at the next gradient exchange, and learn its patience count. Patience counts
        `scheduled` evaluations only (eval_every's, each epoch's), not the one where a budget
        stops the run: a run stopped and resumed counts as one that never stopped."""
        if self.ranks.main:
            self.model.eval()
            result = self.task.evaluate(self.model, self.dev, self.device)
            self.model.train()
            if result.predictions is not None:
                checkpoint.write_text_atomic(self.paths.translations / "dev.hyp",
                                             "".join(h + "\n" for h in result.predictions))
            reporter.evaluation(step=self.step, epoch=self.progress, elapsed=self.elapsed,
                                metrics=result.metrics)
            if scheduled and not self.patience.count(result.best_value) \
                    and self.patience.limit is not None:
                log.info("%d of trainer.patience=%d evaluations without raising dev %s above "
                         "%.4g by more than trainer.min_delta=%g", self.patience.stale,
                         self.patience.limit, result.best_name, self.patience.mark,
                         self.patience.min_delta)
            self._keep_best(result.best_value)
        if self.ranks.world > 1 and self.patience.limit is not None:
            # every rank stops early where rank 0's metric says
            stale = self.patience.stale if self.ranks.main else 0
            self.patience.stale = int(self.ranks.sum([stale])[0])

    def _keep_best(self, value: float) -> None:
        if self.best is None or value > self.best:
            self.best = value
            self.save("best.pt")
        keep = self.cfg.trainer.keep_checkpoints
        if keep:  # for seq2seq-average; the oldest go once a newer one is complete
            self.save(f"checkpoint_{self.step:08d}.pt")
            for old in sorted(self.paths.checkpoints.glob("checkpoint_*.pt"))[:-keep]:
                old.unlink()
        self.save("last.pt")


def _lines(path) -> list[str]:
    """A prepared text file's lines; none where the task prepares no such side."""
    return path.read_text().splitlines() if path.is_file() else []


def train_step(run: Run, b: Batch) -> tuple[float, int, float, float]:
    """One optimiser step on the batch `b`: (summed loss, its terms (the task's unit: target
    tokens, texts), ||g||, lr).

    A NaN or infinite loss or gradient never reaches the parameters: the step stops with
    `FloatingPointError` (last.pt stays the last good state) or, under
    `trainer.on_nonfinite=skip`, the batch is skipped, counted, and (0, 0, ||g||, lr) returned.
    """
    oc = run.cfg.optim
    # 1. lr from the schedule, at the epochs done or (schedule_over=budget) at the share of
    # the budget spent: a run that max_time ends early halves as one ended by its epochs
    at = run.progress if oc.schedule_over == "epochs" else oc.epochs * run.budget.fraction(
        run.progress, run.elapsed, run.step)
    lr = paper_lr(at, lr=oc.lr, halve_after=oc.halve_after, halve_every=oc.halve_every)
    for group in run.opt.param_groups:
        group["lr"] = lr
    # 2. loss and gradient, clipped
    loss, n_units, grad_norm = gradients(run.loss, b, run.params, run.ranks,
                                         loss_per=oc.loss_per, clip_norm=oc.clip_norm,
                                         autocast=autocast(run.device, run.precision),
                                         scaler=run.scaler, opt=run.opt)
    run.step, run.next_batch = run.step + 1, run.next_batch + 1
    # Under fp16 an overflowing gradient is the loss scale's business: scaler.step skips it.
    finite_grad = math.isfinite(grad_norm) or run.scaler.is_enabled()
    if not (math.isfinite(loss) and finite_grad):
        where = f"step {run.step} (epoch {run.epoch}, batch {run.next_batch})"
        if run.cfg.trainer.on_nonfinite == "error":
            raise FloatingPointError(
                f"non-finite loss ({loss}) or gradient norm ({grad_norm}) at {where}; "
                f"{run.paths.checkpoint('last.pt')} holds the last good state "
                "(trainer.on_nonfinite=skip skips such batches)")
        run.skipped += 1
        log.warning("skipped %s: non-finite loss or gradient (%d skipped so far)",
                    where, run.skipped)
        return 0.0, 0, grad_norm, lr
    # 3. a plain SGD (or Adam) step (fp16: unless the scaled gradient overflowed)
    run.scaler.step(run.opt)
    run.scaler.update()
    return loss, n_units, grad_norm, lr


def train(cfg: TrainConfig, ranks: Ranks = Ranks(), log_file: Optional[LogFile] = None) -> Run:
    """Train (or resume) the run `cfg` names; `log_file`: train.log, opened once the run
    directory is known to be this run's."""
    run = Run(cfg, ranks)
    run.resume()
    if log_file is not None:
        log_file.open(run.paths.log)
    tc = cfg.trainer
    reporter = Reporter(run.paths, run.budget, tc.log_every, bar=ranks.main and wants_bar(),
                        tensorboard=ranks.main and tc.tensorboard, main=ranks.main,
                        unit=run.task.unit)
    with reporter.active(), signals_as_requests() as received:
        _loop(run, reporter, received)
    return run


def _loop(run: Run, reporter: Reporter, received: list[int]) -> None:
    oc, tc = run.cfg.optim, run.cfg.trainer
    start = time.monotonic() - run.elapsed  # evaluation time counts against max_time too
    run.model.train()
    stop = (tc.max_time is not None and run.elapsed >= tc.max_time) or run.patience.spent
    while run.progress < oc.epochs and not stop:
        batches = run.batches(run.epoch)
        for batch in run.prefetch(batches[run.next_batch:]):
            loss, tokens, grad_norm, lr = train_step(run, batch)
            run.elapsed = time.monotonic() - start
            reporter.step(step=run.step, progress=run.progress, elapsed=run.elapsed, loss=loss,
                          tokens=tokens, grad_norm=grad_norm, lr=lr,
                          data_wait=run.prefetch.waited)
            # Every rank stops at the same step: at a signal or the budget of any of them.
            interrupted, out_of_time = (bool(received),
                                        tc.max_time is not None and run.elapsed >= tc.max_time)
            if run.ranks.world > 1:  # and one clock for all, which the lr may follow
                signals, late, clocks = run.ranks.sum([interrupted, out_of_time, run.elapsed])
                interrupted, out_of_time = signals > 0, late > 0
                run.elapsed = clocks / run.ranks.world
            if tc.eval_every and run.step % tc.eval_every == 0:
                run.evaluate(reporter)
            elif interrupted or (tc.save_every and run.step % tc.save_every == 0):
                run.save("last.pt")
            if interrupted:
                sig = signal.Signals(received[0]) if received else signal.SIGTERM
                raise Stopped(f"stopped by {sig.name} at step {run.step}; "
                              f"{run.paths.checkpoint('last.pt')} saved: run the same command "
                              "to resume", exit_status=128 + sig)
            stop = (out_of_time or run.patience.spent or run.progress >= oc.epochs
                    or (tc.max_steps is not None and run.step >= tc.max_steps))
            if stop:
                break
        else:
            run.epoch, run.next_batch = run.epoch + 1, 0
            if not tc.eval_every:
                run.evaluate(reporter)
                stop = run.patience.spent
    if run.patience.spent:  # just evaluated (or, run again, already stopped)
        log.info("early stopping at epoch %.3f step %d: trainer.patience=%d evaluations "
                 "without improvement; best.pt holds the best", run.progress, run.step,
                 tc.patience)
    elif stop:
        log.info("stopping at epoch %.3f step %d (%s)", run.progress, run.step,
                 "budget reached" if run.progress < oc.epochs else "done")
        run.evaluate(reporter, scheduled=False)
