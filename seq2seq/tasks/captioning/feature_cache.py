"""A frozen backbone's grids, computed once per prepared split and reused by every epoch and
every run with the same backbone: the CNN then costs nothing in training.

    train/images.u8 --frozen resnet (no grad, eval)--> train/features-<key>.f16
                                                        (images, T, D, h, w) float16

`<key>` hashes what the grids depend on: the backbone, its weights (a file's sha256, or a
torchvision enum name), and the images' shape. The file is written whole, then renamed: a
cache present is a complete one. The image encoders take a source of grids (float) as the
output of their CNN, and a source of pixels (uint8) through it: the Captioner reads image
files, so inference runs the CNN as always (the two agree to float16's rounding).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from seq2seq.tasks.captioning.backbones import build_backbone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrozenBackbone:
    """Which pretrained CNN (model.encoder.backbone, .weights; frozen) and on what images."""
    kind: str
    weights: Optional[str]
    channels: int
    height: int
    width: int

    def key(self) -> str:
        weights = self.weights
        if weights is not None and Path(weights).is_file():  # a file: what it holds
            weights = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
        spec = json.dumps([self.kind, weights, self.channels, self.height, self.width])
        return hashlib.sha1(spec.encode()).hexdigest()[:10]


def cached_grids(split: Path, images: np.ndarray, frames: np.ndarray, spec: FrozenBackbone,
                 batch_size: int = 64) -> np.ndarray:
    """The grids of every real frame of `images` (N, T, C, H, W), memory-mapped from the
    split's cache file, computed first if it is not there: (N, T, D, h, w) float16."""
    path = split / f"features-{spec.key()}.f16"
    backbone = build_backbone(spec.kind, spec.channels, 0, 0, spec.weights, frozen=True)
    h, w = backbone.grid_size(spec.height, spec.width)
    shape = (*images.shape[:2], backbone.channels, h, w)
    if not path.is_file() or path.stat().st_size != int(np.prod(shape)) * 2:
        _compute(path, backbone, images, frames, shape, batch_size)
    return np.memmap(path, dtype=np.float16, mode="r", shape=shape)


@torch.no_grad()
def _compute(path: Path, backbone: torch.nn.Module, images: np.ndarray, frames: np.ndarray,
             shape: tuple[int, ...], batch_size: int) -> None:
    log.info("%s: computing the frozen backbone's grids of %d images (once)", path, len(images))
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    grids = np.memmap(tmp, dtype=np.float16, mode="w+", shape=shape)
    T = shape[1]
    for start in range(0, len(images), batch_size):
        chunk = torch.from_numpy(np.array(images[start: start + batch_size]))  # a copy: writable
        real = torch.arange(T) < torch.from_numpy(frames[start: start + batch_size]
                                                  .astype(np.int64)).unsqueeze(1)  # (b, T)
        values = torch.zeros(*chunk.shape[:2], *shape[2:])
        values[real] = backbone(chunk[real])  # (R, D, h, w)
        grids[start: start + len(chunk)] = values.numpy().astype(np.float16)
    grids.flush()
    del grids
    os.replace(tmp, path)
