"""A contact sheet: images in a grid, each with its generated caption (and the references),
because people would rather look than read. `seq2seq-caption --sheet out.png`.

    +---------+---------+---------+---------+
    |  image  |  image  |  image  |  image  |   a video shows its frames side by side
    | caption | caption | caption | caption |   bold: generated; grey: references
    |  refs   |  refs   |  refs   |  refs   |
    +---------+---------+---------+---------+
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Optional, Sequence

import numpy as np


def tile(frames: np.ndarray) -> np.ndarray:
    """(T, C, H, W) uint8 -> one (H, T*W, C) picture, the frames left to right."""
    T, C, H, W = frames.shape
    picture = frames.transpose(2, 0, 3, 1).reshape(H, T * W, C)
    return picture[..., 0] if C == 1 else picture


def draw_sheet(path: Path, images: Sequence[np.ndarray], captions: Sequence[str],
               refs: Optional[Sequence[list[str]]] = None, columns: int = 4) -> None:
    """Writes `path` (.png): each image (T, C, H, W) uint8 above its caption and refs."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = max(1, math.ceil(len(images) / columns))
    pictures = [tile(x) for x in images]
    aspect = max((p.shape[0] / p.shape[1] for p in pictures), default=1.0)  # height / width
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(3.2 * columns, (3.2 * aspect + 0.9) * rows))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        ax.imshow(pictures[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        lines = [textwrap.fill(captions[i] or "(empty)", 32)]
        if refs is not None:
            lines += [textwrap.fill("ref: " + "; ".join(refs[i][:3]), 36)]
        ax.set_title(lines[0], fontsize=9, fontweight="bold")
        if len(lines) > 1:
            ax.text(0.5, -0.06, lines[1], transform=ax.transAxes, ha="center", va="top",
                    fontsize=7, color="dimgray")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
