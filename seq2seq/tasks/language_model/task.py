"""The language model: one language's sentences alone, read by a decoder with no encoder
(model/encoder=none). Its preparation reads only that language (prepare.py: no other side
filters or orders its sentences) and its batches group sentences of one length. Token
cross-entropy; dev perplexity picks best.pt; `seq2seq-sample` draws sentences from its
runs; a classifier may start from its layers (`model.init_from`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from seq2seq.config.compose import TrainConfig
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.textfile import file_stamp
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.data.tokens import TextArrays
from seq2seq.tasks.base import DevSet, Evaluation, Task, perplexity
from seq2seq.tasks.language_model.prepare import TextConfig, prepare_texts, text_files
from seq2seq.tasks.language_model.sample import Sampler
from seq2seq.tasks.translation.task import Translation


class LanguageModelling(Translation):
    data_config = TextConfig
    reads = ("nothing",)
    parts = "a language model reads no source: task=language_model goes with model/encoder=none"
    command = "seq2seq-sample"
    predictor = Sampler
    score = Task.score  # nothing of its files to score

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    @classmethod
    def from_config(cls, cfg: TrainConfig, tokenizer: Tokenizer,
                    prepared: PreparedDir) -> "LanguageModelling":
        return cls(cfg.optim.label_smoothing)

    @classmethod
    def preparation(cls, cfg: TrainConfig) -> dict:
        data = dataclasses.asdict(cfg.data)
        del data["num_proc"]  # how many processes encode changes nothing in the result
        return {"task": "language_model", "data": data,
                "files": file_stamp(text_files(cfg.data))}

    @classmethod
    def prepare(cls, cfg: TrainConfig, out: PreparedDir, clock) -> None:
        prepare_texts(cfg, out, clock)

    def arrays(self, directory: Path, training: bool = False) -> TextArrays:
        """A prepared split: sentences alone (the same for training)."""
        return TextArrays(directory)

    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        ppl = perplexity(model, dev, device)
        return Evaluation({"ppl": ppl}, best_value=-ppl, best_name="-ppl")
