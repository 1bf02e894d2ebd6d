"""The paper's optimisation: the learning-rate schedule and the budget it may follow,
gradient clipping, and one gradient computation that is the same on one process or many.

Sutskever et al. 2014, section 3.4: plain SGD at lr 0.7, halved every half epoch after
5 epochs; the gradient divided by the batch size; if ||g|| > 5, g <- 5 g / ||g||.
Adam is offered beside SGD (attention models often train faster with it); the same
schedule applies to both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from seq2seq.training.distributed import Ranks


def paper_lr(epoch: float, *, lr: float, halve_after: float, halve_every: float) -> float:
    """Learning rate at a (fractional) epoch.

    1. constant `lr` for the first `halve_after` epochs;
    2. then halved at once, and again every `halve_every` epochs.
    """
    if epoch < halve_after:
        return lr
    return lr * 0.5 ** (1 + math.floor((epoch - halve_after) / halve_every))


@dataclass
class Budget:
    """When training ends: after `epochs`, `max_time` seconds or `max_steps`, first met.

    Its `fraction` spent places the lr schedule (optim.schedule_over=budget) and the
    progress bar's ETA."""
    epochs: float
    max_time: Optional[float] = None
    max_steps: Optional[int] = None

    def fraction(self, progress: float, elapsed: float, step: int) -> float:
        done = [progress / self.epochs]
        if self.max_time:
            done.append(elapsed / self.max_time)
        if self.max_steps:
            done.append(step / self.max_steps)
        return min(max(done), 1.0)


def clip_gradients(params: list[torch.nn.Parameter], max_norm: float) -> float:
    """If ||g|| > max_norm, g <- max_norm * g / ||g||. Returns ||g|| before clipping."""
    return float(torch.nn.utils.clip_grad_norm_(params, max_norm))


def build_optimizer(name: str, params: list[torch.nn.Parameter],
                    lr: float) -> torch.optim.Optimizer:
    """sgd (the paper's, no momentum) | adam."""
    return {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[name](params, lr=lr)


def gradients(loss_fn: torch.nn.Module, b, params: list[torch.nn.Parameter], ranks: Ranks, *,
              loss_per: str, clip_norm: float, autocast: torch.autocast,
              scaler: Optional[torch.amp.GradScaler] = None,
              opt: Optional[torch.optim.Optimizer] = None) -> tuple[float, int, float]:
    """Forward and backward on batch `b`, then gradient-norm clipping.

    The loss is summed over target tokens and divided by the sentences (the paper) or
    tokens of all ranks together: with DDP averaging the gradients, two ranks with half a
    batch each compute the gradient of one process with the whole batch. Returns the
    summed loss and its terms (the batch's `n_units`: target tokens, texts) of all ranks,
    and ||g|| before clipping. `scaler` (fp16): the loss is scaled for backward and `opt`'s
    gradients unscaled before clipping.
    """
    with autocast:
        loss_sum = loss_fn(b)  # summed over the batch's target tokens
    divisor = b.size if loss_per == "sentence" else b.n_units
    loss, n_units = None, b.n_units
    if ranks.world > 1:
        divisor, loss, n_units = ranks.sum([divisor, float(loss_sum.detach()), n_units])
    for p in params:
        p.grad = None
    objective = loss_sum * (ranks.world / divisor)  # DDP averages over the ranks
    (objective if scaler is None else scaler.scale(objective)).backward()
    if scaler is not None:
        scaler.unscale_(opt)  # clip the true gradient; inf/NaN here makes scaler.step skip
    grad_norm = clip_gradients(params, clip_norm)
    return (loss_sum.item() if loss is None else loss), int(n_units), grad_norm
