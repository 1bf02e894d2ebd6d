"""A prepared split of tagged sentences, memory-mapped, and its batches.

    <split>/src.*   each sentence's form ids (into forms.npy)    tokens.write_pairs' layout
            tgt.*   each sentence's tag ids (as many as forms)
            forms.npy   (F, 1 + W): each distinct form's word id and character ids

A batch's source is (B, S, 1 + W) ids, a row per token: the word id, then its characters
(vocab.py); padding rows are all PAD. Batches group sentences of one length, as every
task's do: the encoder sees no padding in training.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seq2seq.data.corpus import make_batches
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import PAD
from seq2seq.data.tokens import PairArrays

IGNORED = -100  # a padding position's tag: cross-entropy's ignore_index


@dataclass
class TaggedBatch:
    src: Source  # (B, S, 1 + W) word and character ids, and lengths (B,)
    tags: torch.Tensor  # (B, S) tag ids, IGNORED past each sentence's length

    @property
    def size(self) -> int:
        return self.tags.size(0)

    @property
    def n_units(self) -> int:
        """The loss's terms: tokens (the task's unit)."""
        return int(self.src.lens.sum())

    def pinned(self) -> "TaggedBatch":
        return TaggedBatch(self.src.pinned(), self.tags.pin_memory())

    def to(self, device: torch.device) -> "TaggedBatch":
        return TaggedBatch(self.src.to(device), self.tags.to(device, non_blocking=True))


def token_rows(forms: np.ndarray, form_ids: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """(B, S) form ids (any value past each length) -> (B, S, 1 + W) ids, W the batch's
    longest spelling, padding positions PAD."""
    rows = forms[form_ids]  # (B, S, 1 + Wmax)
    rows[np.arange(form_ids.shape[1]) >= lens[:, None]] = PAD
    width = int((rows[..., 1:] != PAD).sum(-1).max()) if rows.size else 0
    return rows[..., : 1 + width]


class TaggedArrays(PairArrays):
    """(tokens, tags) sentences of one prepared split: a split of pairs (form ids, tag ids),
    mapped as any, with its forms table; batched by the tokens alone, collated as rows."""

    def __init__(self, directory: Path):
        super().__init__(directory)
        forms = Path(directory) / "forms.npy"
        if not forms.is_file():
            raise ValueError(f"{directory}: not a tagged split (no forms.npy)")
        self.forms = np.load(forms).astype(np.int64)

    def tags_of(self, i: int) -> list[int]:
        return self.pair(i)[1]

    def batches(self, *, max_tokens: int, max_sentences: int, seed: int,
                epoch: int) -> list[np.ndarray]:
        lens = self.src.lens
        return make_batches(lens, np.zeros_like(lens), max_tokens=max_tokens,
                            max_sentences=max_sentences, seed=seed, epoch=epoch)

    def collate(self, index: np.ndarray) -> TaggedBatch:
        index = np.asarray(index)
        width = int(self.src.lens[index].max())
        form_ids, lens = self.src.rows(index, width, 0)  # (B, S), PAD (form 0) past lens
        tags, _ = self.tgt.rows(index, width, 0)
        tags[np.arange(width) >= lens[:, None]] = IGNORED
        rows = token_rows(self.forms, form_ids, lens)
        return TaggedBatch(Source(torch.from_numpy(rows), torch.from_numpy(lens)),
                           torch.from_numpy(tags))
