"""What an encoder reads: one typed value from the batch to the encoder, through search,
ensembles and the Translator, none of which looks inside it.

    text    Source(values=(B, S) token ids, lens=(B,))        SequenceEncoder(Embedding)
    frames  Source(values=(B, S, F) feature vectors, lens)    SequenceEncoder(Linear)
    nothing Source.empty(B): B rows of length 0                NoEncoder (a language model)

Rows are right-padded; `lens` says how many positions of each are real.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch

from seq2seq.data.tokenizer import PAD


class Source(NamedTuple):
    values: torch.Tensor  # (B, S) ids, or (B, S, F) features; padding after lens
    lens: torch.Tensor  # (B,) real positions of each row

    @property
    def rows(self) -> int:
        return self.lens.numel()

    @classmethod
    def of_ids(cls, seqs: Sequence[Sequence[int]]) -> "Source":
        """Id sequences of any lengths as one right-padded (B, S) batch."""
        lens = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        return cls(pad(seqs, width=int(lens.max()) if len(seqs) else 0), lens)

    @classmethod
    def empty(cls, rows: int, device: torch.device | str = "cpu") -> "Source":
        """`rows` sources of no positions: what a model that reads no source is given."""
        return cls(torch.zeros(rows, 0, dtype=torch.long, device=device),
                   torch.zeros(rows, dtype=torch.long, device=device))

    def pinned(self) -> "Source":
        """In page-locked memory, from which a copy to a GPU does not block the host."""
        return Source(self.values.pin_memory(), self.lens.pin_memory())

    def to(self, device: torch.device) -> "Source":
        """On `device` (asynchronously from pinned memory)."""
        return Source(self.values.to(device, non_blocking=True),
                      self.lens.to(device, non_blocking=True))


class ImageShape(NamedTuple):
    """What every image of a run is resized to (the saved transform: data.image_*): what an
    image encoder's builder is given."""
    channels: int
    height: int
    width: int


def pad(seqs: Sequence[Sequence[int]], width: int) -> torch.Tensor:
    """(B, width) tensor of the id sequences, right-padded with PAD."""
    out = torch.full((len(seqs), width), PAD, dtype=torch.long)
    for i, seq in enumerate(seqs):
        out[i, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return out
