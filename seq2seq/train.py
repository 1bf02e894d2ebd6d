"""seq2seq-train: the one training loop.

    seq2seq-train experiment=bible_demo trainer.run_dir=runs/demo
    seq2seq-train experiment=sutskever2014 optim.lr=0.5
    seq2seq-train debug=smoke            # any run, shrunk to seconds

Paper recipe (Sutskever et al. 2014, section 3.4): plain SGD at lr 0.7, halved every half
epoch after 5 epochs, 7.5 epochs in all; batches of 128 sentences; the gradient divided by
the batch size; gradient norm clipped at 5. Running the same command again resumes from
`<run_dir>/last.pt`.
"""
from __future__ import annotations

import logging
import math
import random
import signal
import sys
import time
from pathlib import Path

import datasets
import torch
from omegaconf import OmegaConf

from seq2seq import checkpoint
from seq2seq.cli import Stopped, run as run_cli, signals_as_requests, wants_debug
from seq2seq.config import TrainConfig, cli_config, config_to_dict
from seq2seq.data import ParallelIds
from seq2seq.metrics import bleu
from seq2seq.model import Seq2Seq, build_model, token_loss
from seq2seq.prepare import prepare
from seq2seq.tokenizer import Tokenizer
from seq2seq.translate import pick_device, translate_text

log = logging.getLogger("seq2seq.train")


def paper_lr(epoch: float, *, lr: float, halve_after: float, halve_every: float) -> float:
    """Learning rate at a (fractional) epoch.

    1. constant `lr` for the first `halve_after` epochs;
    2. then halved at once, and again every `halve_every` epochs.
    """
    if epoch < halve_after:
        return lr
    return lr * 0.5 ** (1 + math.floor((epoch - halve_after) / halve_every))


def clip_gradients(params: list[torch.nn.Parameter], max_norm: float) -> float:
    """If ||g|| > max_norm, g <- max_norm * g / ||g||. Returns ||g|| before clipping."""
    return float(torch.nn.utils.clip_grad_norm_(params, max_norm))


class Run:
    """Everything a training run holds, so that the loop below reads top to bottom."""

    def __init__(self, cfg: TrainConfig):
        self.cfg, tc = cfg, cfg.trainer
        self.dir = Path(tc.run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        checkpoint.remove_stale_temporaries(self.dir)
        checkpoint.write_text_atomic(self.dir / "config.yaml",
                                     OmegaConf.to_yaml(OmegaConf.structured(cfg)))
        prepared = prepare(cfg)
        for name in ("src.model", "tgt.model"):  # written once: a resumed run keeps them
            model_bytes = (prepared / name).read_bytes()
            if not (self.dir / name).is_file() or (self.dir / name).read_bytes() != model_bytes:
                checkpoint.write_bytes_atomic(self.dir / name, model_bytes)
        self.tok = Tokenizer.load(self.dir, reverse_source=cfg.model.reverse_source)
        self.train = ParallelIds(datasets.load_from_disk(str(prepared / "train")))
        self.dev = ParallelIds(datasets.load_from_disk(str(prepared / "dev")))
        self.dev_src = (prepared / "dev.src").read_text().splitlines()
        self.dev_ref = (prepared / "dev.ref").read_text().splitlines()
        self.device = pick_device(tc.device)
        if tc.threads > 0:
            torch.set_num_threads(tc.threads)
        torch.manual_seed(tc.seed)
        random.seed(tc.seed)
        self.model: Seq2Seq = build_model(cfg.model, self.tok.src_vocab_size,
                                          self.tok.tgt_vocab_size).to(self.device)
        self.params = list(self.model.parameters())
        optimizer = torch.optim.Adam if cfg.optim.name == "adam" else torch.optim.SGD
        self.opt = optimizer(self.params, lr=cfg.optim.lr)
        self.epoch, self.next_batch, self.step, self.best = 0, 0, 0, None
        self.skipped = 0  # batches skipped for a non-finite loss (trainer.on_nonfinite=skip)
        self.elapsed = 0.0  # training seconds so far, over all resumptions (max_time)
        self.n_batches = len(self.batches(0))
        log.info("model: %d parameters; %d training pairs in %d batches an epoch; device %s",
                 sum(p.numel() for p in self.model.parameters()), len(self.train),
                 self.n_batches, self.device)

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.cfg.trainer.precision == "bf16")

    def batches(self, epoch: int) -> list:
        tc = self.cfg.trainer
        return self.train.batches(max_tokens=tc.max_tokens, max_sentences=tc.max_sentences,
                                  seed=tc.seed, epoch=epoch)

    @property
    def progress(self) -> float:
        """Epochs done, fractional: drives the lr schedule and the stopping rule."""
        return self.epoch + self.next_batch / self.n_batches

    # ------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "epoch": self.epoch, "next_batch": self.next_batch, "step": self.step,
                "best": self.best, "elapsed": self.elapsed, "skipped": self.skipped,
                "config": config_to_dict(self.cfg),
                "rng": {"torch": torch.get_rng_state(), "python": random.getstate(),
                        "cuda": torch.cuda.get_rng_state_all()}}

    def save(self, name: str) -> None:
        checkpoint.save(self.state(), self.dir / name)

    def resume(self) -> None:
        path = self.dir / "last.pt"
        if not path.is_file():
            return
        s = checkpoint.load(path, map_location=self.device)
        checkpoint.load_weights(self.model, s["model"], path)
        self.opt.load_state_dict(s["optimizer"])
        self.epoch, self.next_batch, self.step, self.best, self.elapsed, self.skipped = (
            s["epoch"], s["next_batch"], s["step"], s["best"], s["elapsed"], s.get("skipped", 0))
        torch.set_rng_state(s["rng"]["torch"])
        random.setstate(s["rng"]["python"])
        if torch.cuda.is_available() and s["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(s["rng"]["cuda"])
        log.info("resumed from %s at epoch %.3f (step %d)", path, self.progress, self.step)

    # ------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self) -> dict:
        """Dev perplexity (teacher forced) and dev BLEU (beam search, detokenised)."""
        self.model.eval()
        total, tokens = 0.0, 0
        tc = self.cfg.trainer
        for index in self.dev.batches(max_tokens=tc.max_tokens, max_sentences=tc.max_sentences,
                                      seed=0, epoch=0):
            b = self.dev.collate(index).to(self.device)
            total += float(token_loss(self.model, b.src_ids, b.src_lens, b.tgt_in, b.tgt_out))
            tokens += b.n_tokens
        score = self._dev_bleu() if tc.eval_bleu else None
        self.model.train()
        return {"ppl": math.exp(total / max(tokens, 1)), "bleu": score}

    def _dev_bleu(self):
        n = self.cfg.trainer.eval_max_sentences or len(self.dev_src)
        hyps = translate_text(self.model, self.tok, self.dev_src[:n], self.cfg.decode,
                              self.device)
        checkpoint.write_text_atomic(self.dir / "dev.hyp", "".join(h + "\n" for h in hyps))
        return bleu(hyps, [self.dev_ref[:n]])

    def after_eval(self, result: dict) -> None:
        log.info("eval epoch %.2f step %d | dev ppl %.2f%s", self.progress, self.step,
                 result["ppl"], f" | dev {result['bleu']}" if result["bleu"] else "")
        value = result["bleu"].score if self.cfg.trainer.best_metric == "bleu" else -result["ppl"]
        if self.best is None or value > self.best:
            self.best = value
            self.save("best.pt")
        keep = self.cfg.trainer.keep_checkpoints
        if keep:  # for seq2seq-average; the oldest go once a newer one is complete
            self.save(f"checkpoint_{self.step:08d}.pt")
            for old in sorted(self.dir.glob("checkpoint_*.pt"))[:-keep]:
                old.unlink()
        self.save("last.pt")


def train_step(run: Run, index) -> tuple[float, int, float, float]:
    """One optimiser step on the batch `index`: (summed loss, target tokens, ||g||, lr).

    A NaN or infinite loss or gradient never reaches the parameters: the step stops with
    `FloatingPointError` (last.pt stays the last good state) or, under
    `trainer.on_nonfinite=skip`, the batch is skipped, counted, and (0, 0, ||g||, lr) returned.
    """
    oc = run.cfg.optim
    # 1. lr from the schedule, at the fraction of an epoch done so far
    lr = paper_lr(run.progress, lr=oc.lr, halve_after=oc.halve_after,
                  halve_every=oc.halve_every)
    for group in run.opt.param_groups:
        group["lr"] = lr
    # 2. loss summed over tokens, divided by sentences (paper) or tokens
    b = run.train.collate(index).to(run.device)
    with run.autocast():
        loss_sum = token_loss(run.model, b.src_ids, b.src_lens, b.tgt_in, b.tgt_out,
                              label_smoothing=oc.label_smoothing)
    n_tokens = b.n_tokens
    divisor = b.src_ids.size(0) if oc.loss_per == "sentence" else n_tokens
    run.opt.zero_grad(set_to_none=True)
    (loss_sum / divisor).backward()
    # 3. clip the gradient norm, then a plain SGD (or Adam) step
    grad_norm = clip_gradients(run.params, oc.clip_norm)
    loss = loss_sum.item()
    run.step, run.next_batch = run.step + 1, run.next_batch + 1
    if not (math.isfinite(loss) and math.isfinite(grad_norm)):
        where = f"step {run.step} (epoch {run.epoch}, batch {run.next_batch})"
        if run.cfg.trainer.on_nonfinite == "error":
            raise FloatingPointError(
                f"non-finite loss ({loss}) or gradient norm ({grad_norm}) at {where}; "
                f"{run.dir / 'last.pt'} holds the last good state "
                "(trainer.on_nonfinite=skip skips such batches)")
        run.skipped += 1
        log.warning("skipped %s: non-finite loss or gradient (%d skipped so far)",
                    where, run.skipped)
        return 0.0, 0, grad_norm, lr
    run.opt.step()
    return loss, n_tokens, grad_norm, lr


class Meter:
    """Loss and throughput since the last log line."""

    def __init__(self) -> None:
        self.loss, self.tokens, self.since = 0.0, 0, time.monotonic()

    def add(self, loss: float, tokens: int) -> None:
        self.loss, self.tokens = self.loss + loss, self.tokens + tokens

    def line(self, run: Run, lr: float, grad_norm: float) -> str:
        per_token = self.loss / max(self.tokens, 1)
        speed = self.tokens / (time.monotonic() - self.since)
        self.__init__()
        return (f"epoch {run.progress:.3f} step {run.step} | loss/token {per_token:.3f} "
                f"ppl {math.exp(min(per_token, 50)):.2f} | lr {lr:.4g} | |g| {grad_norm:.2f} "
                f"| {speed:.0f} tgt tokens/s")


def train(cfg: TrainConfig) -> Run:
    run = Run(cfg)
    run.resume()
    with signals_as_requests() as received:
        _loop(run, received)
    return run


def _loop(run: Run, received: list[int]) -> None:
    oc, tc = run.cfg.optim, run.cfg.trainer
    start = time.monotonic() - run.elapsed  # evaluation time counts against max_time too
    meter = Meter()
    run.model.train()
    stop = tc.max_time is not None and run.elapsed >= tc.max_time
    while run.progress < oc.epochs and not stop:
        batches = run.batches(run.epoch)
        while run.next_batch < len(batches):
            loss, tokens, grad_norm, lr = train_step(run, batches[run.next_batch])
            meter.add(loss, tokens)
            run.elapsed = time.monotonic() - start
            if run.step % tc.log_every == 0:
                log.info(meter.line(run, lr, grad_norm))
            if tc.eval_every and run.step % tc.eval_every == 0:
                run.after_eval(run.evaluate())
            elif received or (tc.save_every and run.step % tc.save_every == 0):
                run.save("last.pt")
            if received:
                sig = signal.Signals(received[0])
                raise Stopped(f"stopped by {sig.name} at step {run.step}; "
                              f"{run.dir / 'last.pt'} saved: run the same command to resume",
                              exit_status=128 + sig)
            stop = ((tc.max_time is not None and run.elapsed >= tc.max_time)
                    or (tc.max_steps is not None and run.step >= tc.max_steps)
                    or run.progress >= oc.epochs)
            if stop:
                break
        else:
            run.epoch, run.next_batch = run.epoch + 1, 0
            if not tc.eval_every:
                run.after_eval(run.evaluate())
    if stop:
        log.info("stopping at epoch %.3f step %d (%s)", run.progress, run.step,
                 "budget reached" if run.progress < oc.epochs else "done")
        run.after_eval(run.evaluate())


def main(argv: list[str] | None = None) -> None:
    argv, debug = wants_debug(sys.argv[1:] if argv is None else argv)
    cfg = cli_config(argv, "seq2seq-train")
    Path(cfg.trainer.run_dir).mkdir(parents=True, exist_ok=True)
    datasets.disable_progress_bars()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.StreamHandler(),
                                  logging.FileHandler(Path(cfg.trainer.run_dir) / "train.log")])
    run_cli("seq2seq-train", lambda: train(cfg), debug)


if __name__ == "__main__":
    main()
