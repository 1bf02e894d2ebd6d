"""Where a captioner looked: the image, then one panel per caption word with the attention
that word was chosen with laid over the image (Show, Attend and Tell, figure 3), the
weights of its pieces summed. `seq2seq-caption RUN IMAGE... --attention-png DIR` writes
DIR/000001.png ... for an attention model (model/decoder=attention) over an image grid.

Needs matplotlib (`pip install 'seq2seq[plot]'`).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from seq2seq.config.extras import requires
from seq2seq.tasks.captioning.contact_sheet import tile
from seq2seq.tasks.translation.alignment import sum_by_word, target_words


def word_maps(weights: torch.Tensor, pieces: list[str], grid: tuple[int, int]) -> torch.Tensor:
    """weights (T, h*w) of a caption's T pieces -> (words, h, w): summed over each word's
    pieces."""
    words = target_words(pieces)
    if weights.size(1) != grid[0] * grid[1] or weights.size(0) != len(words):
        raise ValueError(f"attention of shape {tuple(weights.shape)} for {len(words)} pieces "
                         f"over a {grid[0]} x {grid[1]} grid")
    return sum_by_word(weights, words).view(-1, *grid)


def draw(path: Path, image: np.ndarray, words: list[str], maps: torch.Tensor,
         columns: int = 6) -> None:
    """image (1, C, H, W) uint8, words, maps (words, h, w) -> `path` (.png)."""
    requires("matplotlib", "plot", "attention panels").use("Agg")
    plt = requires("matplotlib.pyplot", "plot", "attention panels")
    picture = tile(image)
    H, W = picture.shape[:2]
    panels = len(words) + 1
    rows, cols = math.ceil(panels / columns), min(panels, columns)
    fig, axes = plt.subplots(rows, cols, squeeze=False, figsize=(1.9 * cols, 2.1 * rows))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= panels:
            continue
        ax.imshow(picture, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        if i == 0:
            ax.set_title(" ".join(words) or "(empty)", fontsize=8, fontweight="bold")
            continue
        heat = maps[i - 1].numpy()
        ax.imshow(heat / max(float(heat.max()), 1e-9), cmap="magma", alpha=0.6,
                  extent=(-0.5, W - 0.5, H - 0.5, -0.5), interpolation="bilinear")
        ax.set_title(words[i - 1], fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)  # never a half-written picture
