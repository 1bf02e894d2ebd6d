"""Attention heat maps of translations: source words across, target words down, each
cell the attention the target word paid to the source word (summed over their pieces,
the source reversal undone: seq2seq/tasks/translation/alignment.py).

    seq2seq-translate runs/attention --input src.txt --attention-png maps/
    # maps/000001.png, maps/000002.png ...: one per non-empty input line

Needs matplotlib (`pip install 'seq2seq[plot]'`).
"""
from __future__ import annotations

from pathlib import Path

import torch

from seq2seq.config.extras import requires


def draw(path: Path, src_words: list[str], tgt_words: list[str], matrix: torch.Tensor) -> None:
    """One heat map, (target words, source words) `matrix`, written to `path`."""
    requires("matplotlib", "plot", "attention heat maps").use("Agg")
    plt = requires("matplotlib.pyplot", "plot", "attention heat maps")
    width, height = 1.2 + 0.45 * len(src_words), 1.0 + 0.35 * len(tgt_words)
    fig, ax = plt.subplots(figsize=(max(width, 3.0), max(height, 2.0)))
    ax.imshow(matrix.numpy(), cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(src_words)), src_words, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(tgt_words)), tgt_words, fontsize=8)
    ax.tick_params(length=0)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)  # never a half-written picture
