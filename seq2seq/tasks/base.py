"""What a task is to the shared machinery: the class every task derives from, and the pieces
the training loop hands it (`DevSet`) and gets back (`Evaluation`).

A task owns everything that differs between shapes of sequence learning:

    data_config            its config node (`data.*`): CorpusConfig's keys and its own
    reads, writes, parts   what its encoder reads and its model writes (the builders say
                           theirs: `seq2seq.config.checks` matches them), and which parts fit
    command                the command that reads its runs (every other one refuses them)
    checks(cfg)            its own config checks, each naming a key
    preparation(cfg)       the settings (and file stamps) its preparation is keyed on
    prepare(cfg, out, clock)  raw data -> the prepared directory
    from_config(cfg, tok, prepared)   the task with its settings (labels, references, ...)
    arrays(dir, training)  what a prepared split is read as (batches, collate)
    build_model(cfg, tok)  the model; loss(model, batch); evaluate(model, dev, device)
    predictor              what `seq2seq.load` makes of its runs
    score(hyp, refs, column)   `seq2seq-score --task`'s lines

`task=` names one by its id (seq2seq/tasks/__init__.py) or by a dotted path, so a task may
live outside the package. The training loop, search, preparation driver, config checks,
reporting and scoring call these and name no task.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from seq2seq.config.schema import CorpusConfig, TrainConfig
from seq2seq.data.corpus import Batch
from seq2seq.data.tokenizer import PAD
from seq2seq.evaluation.metrics import LabelScores, Score

# {"ppl": 12.3, "bleu": Score(...)}; {"loss": 0.41, "labels": LabelScores(...)}
Metrics = dict[str, Union[float, Score, LabelScores]]
Check = tuple[str, bool, str]  # (config key, holds, why: said when it does not)


@dataclass
class DevSet:
    """The dev split as the tasks read it: the task's arrays (perplexity, labels) and text
    (BLEU; a classifier's dev.src and dev.ref: texts and labels)."""
    pairs: Any  # the task's `arrays(prepared.dev)`
    src: list[str]
    ref: list[str]
    max_tokens: int  # batch sizes for perplexity: the training ones
    max_sentences: int


@dataclass
class Evaluation:
    metrics: Metrics
    best_value: float  # higher is better: what best.pt is kept on (and patience counts)
    predictions: Optional[list[str]] = None  # one line per dev example read (dev.hyp)
    best_name: str = "the dev metric"  # what best_value is, for the log: "BLEU", "-ppl"


class Task:
    """The interface; see the module's docstring. Class attributes and classmethods are
    what is known before a task is built (config checks, preparation, loading a run)."""

    data_config: type = CorpusConfig
    reads: tuple[str, ...] = ("text",)  # what its encoder may read (a builder's `reads`)
    writes: str = "text"  # what its model's last part writes (a builder's `writes`)
    parts: str = ""  # which model parts fit it, said when the ones chosen do not
    command: str = "seq2seq-translate"
    unit = "token"  # what the loss sums over (the log's loss/token and tokens/s)
    predictor: Any = None

    @classmethod
    def checks(cls, cfg: TrainConfig) -> list[Check]:
        return [("model.init_from", cfg.model.init_from is None,
                 f"task={cfg.task} does not start from another run")]

    @classmethod
    def preparation(cls, cfg: TrainConfig) -> dict:
        raise NotImplementedError

    @classmethod
    def prepare(cls, cfg: TrainConfig, out, clock) -> None:
        raise NotImplementedError

    @classmethod
    def from_config(cls, cfg: TrainConfig, tokenizer, prepared) -> "Task":
        raise NotImplementedError

    @classmethod
    def score(cls, hyp: Path, refs: list[Path], column: str) -> list[str]:
        raise ValueError(f"--task: {cls.__name__} has no scores of prediction files")

    def arrays(self, directory: Path, training: bool = False):
        raise NotImplementedError

    def build_model(self, cfg, tok) -> nn.Module:
        raise NotImplementedError

    def loss(self, model: nn.Module, b) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        raise NotImplementedError


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

    def __init__(self, model: nn.Module, task: Task):
        super().__init__()
        self.model, self.task = model, task

    def forward(self, b) -> torch.Tensor:
        return self.task.loss(self.model, b)
