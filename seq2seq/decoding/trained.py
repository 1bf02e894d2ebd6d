"""A trained run, read for inference: the one way every predictor (Translator, Sampler,
Classifier, Captioner, a plugged-in task's) loads a run directory or checkpoint file.

The checkpoint (a run's best.pt, else last.pt) and its config, the task check (a run of a
task that another command reads is refused in one line), the run's tokenizer, and the
model the predictor's `build` makes of them with the checkpoint's weights (old parameter
names upgraded), in eval mode on the device.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from seq2seq.config.compose import TrainConfig
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.models.encoder_decoder import upgrade_weights
from seq2seq.training import checkpoint
from seq2seq.training.rundir import RunDir

# (the run's config, its tokenizer, its directory) -> the untrained model of that shape
Build = Callable[[TrainConfig, Tokenizer, RunDir], nn.Module]


@dataclass
class TrainedRun:
    model: nn.Module  # in eval mode, on its device
    tokenizer: Tokenizer
    cfg: TrainConfig
    run: RunDir  # where its other files are (labels.txt)


def load_run(path: Path, command: str, build: Build, device: torch.device) -> TrainedRun:
    """The run at `path` for `command` (seq2seq-translate, ...), its model made by `build`."""
    ckpt_path, payload, cfg = checkpoint.load_for_command(Path(path), command)
    run = RunDir.of_checkpoint(ckpt_path)
    tok = Tokenizer.load(run.spm, reverse_source=cfg.model.reverse_source)
    model = build(cfg, tok, run)
    checkpoint.load_weights(model, upgrade_weights(payload["model"]), ckpt_path)
    return TrainedRun(model.to(device).eval(), tok, cfg, run)
