"""The language model: the target side alone, read by a decoder with no encoder
(model/encoder=none). Token cross-entropy; dev perplexity picks best.pt; `seq2seq-sample`
draws sentences from its runs. Its corpus is prepared as translation's (the same
preparation and vocabulary serve both).
"""
from __future__ import annotations

import torch
from torch import nn

from seq2seq.config import TrainConfig
from seq2seq.prepared import PreparedDir
from seq2seq.sample import Sampler
from seq2seq.tasks.base import DevSet, Evaluation, perplexity
from seq2seq.tasks.translation import Translation
from seq2seq.tokenizer import Tokenizer


class LanguageModelling(Translation):
    reads = ("nothing",)
    parts = "a language model reads no source: task=language_model goes with model/encoder=none"
    command = "seq2seq-sample"
    predictor = Sampler

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    @classmethod
    def from_config(cls, cfg: TrainConfig, tokenizer: Tokenizer,
                    prepared: PreparedDir) -> "LanguageModelling":
        return cls(cfg.optim.label_smoothing)

    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        ppl = perplexity(model, dev, device)
        return Evaluation({"ppl": ppl}, best_value=-ppl)
