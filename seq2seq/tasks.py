"""Tasks: what a run learns, and so its loss, its dev metrics, which metric picks `best.pt`,
and the predictions it writes. The training loop calls the task and names no metric.

    translation      text -> text    token cross-entropy   dev ppl + BLEU (beam search,
                                                           detokenised)   best: BLEU
    language_model   nothing -> text token cross-entropy   dev ppl        best: ppl

`task=` in the config picks one (seq2seq/config.py); `build_task` makes it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from seq2seq.config import DecodeConfig, TrainConfig
from seq2seq.data import Batch
from seq2seq.metrics import Score, bleu
from seq2seq.tokenizer import PAD, Tokenizer
from seq2seq.tokens import PairArrays
from seq2seq.translator import Translator

Metrics = dict[str, Union[float, Score]]  # {"ppl": 12.3, "bleu": Score(...)}


@dataclass
class DevSet:
    """The dev split as the tasks read it: token arrays (perplexity) and text (BLEU)."""
    pairs: PairArrays
    src: list[str]
    ref: list[str]
    max_tokens: int  # batch sizes for perplexity: the training ones
    max_sentences: int


@dataclass
class Evaluation:
    metrics: Metrics
    best_value: float  # higher is better: what best.pt is kept on
    predictions: Optional[list[str]] = None  # one line per dev sentence read (dev.hyp)


def token_loss(model: nn.Module, b: Batch, label_smoothing: float = 0.0) -> torch.Tensor:
    """Summed cross-entropy over the real (non-pad) target tokens.

    Only real positions are projected to the vocabulary: padding costs no (tokens x V) work.
    """
    hidden = model(b.src, b.tgt_in)  # (B, T, H)
    mask = b.tgt_out != PAD
    logits = model.logits(hidden[mask]).float()  # (N, V): fp32 even under bf16 autocast
    return F.cross_entropy(logits, b.tgt_out[mask], reduction="sum",
                           label_smoothing=label_smoothing)


@torch.no_grad()
def perplexity(model: nn.Module, dev: DevSet, device: torch.device) -> float:
    """exp(mean cross-entropy per target token) on every dev pair, teacher forced."""
    total, tokens = 0.0, 0
    for index in dev.pairs.batches(max_tokens=dev.max_tokens, max_sentences=dev.max_sentences,
                                   seed=0, epoch=0):
        b = dev.pairs.collate(index).to(device)
        total += float(token_loss(model, b))
        tokens += b.n_tokens
    return math.exp(total / max(tokens, 1))


class Objective(nn.Module):
    """A task's loss over a model, as one module: data parallelism (DDP) wraps it whole."""

    def __init__(self, model: nn.Module, task: "Task"):
        super().__init__()
        self.model, self.task = model, task

    def forward(self, b: Batch) -> torch.Tensor:
        return self.task.loss(self.model, b)


class LanguageModelling:
    """The target side alone: perplexity is the measure, and picks best.pt."""

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    def loss(self, model: nn.Module, b: Batch) -> torch.Tensor:
        return token_loss(model, b, self.label_smoothing)

    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        ppl = perplexity(model, dev, device)
        return Evaluation({"ppl": ppl}, best_value=-ppl)


class Translation(LanguageModelling):
    """Source text -> target text: dev perplexity and dev BLEU (beam search with the run's
    decode settings, detokenised, with sacrebleu's signature); best.pt on BLEU."""

    def __init__(self, tokenizer: Tokenizer, decode: DecodeConfig,
                 eval_max_sentences: Optional[int] = None, label_smoothing: float = 0.0):
        super().__init__(label_smoothing)
        self.tokenizer, self.decode = tokenizer, decode
        self.eval_max_sentences = eval_max_sentences

    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        ppl = perplexity(model, dev, device)
        n = self.eval_max_sentences or len(dev.src)
        # the Translator searches under inference mode itself
        hyps = Translator(model, self.tokenizer, self.decode, device).translate(dev.src[:n])
        score = bleu(hyps, [dev.ref[:n]])
        return Evaluation({"ppl": ppl, "bleu": score}, best_value=score.score,
                          predictions=hyps)


Task = Union[Translation, LanguageModelling]


def build_task(cfg: TrainConfig, tokenizer: Tokenizer) -> Task:
    """The task `cfg.task` names, with its settings."""
    smoothing = cfg.optim.label_smoothing
    if cfg.task == "language_model":
        return LanguageModelling(smoothing)
    return Translation(tokenizer, cfg.decode, cfg.trainer.eval_max_sentences, smoothing)
