"""Ensembles of models that share their vocabularies (the paper's 5-model ensemble).

An `Ensemble` offers the interface search needs (`encode`, `decode_step`, `state.select`),
so greedy and beam search decode it unchanged: every step runs each member on the same
hypotheses and averages their log-probabilities.

    seq2seq-translate runs/a runs/b runs/c --input src.txt
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import Tokenizer


class EnsembleState(tuple):
    """One decoder state per member, reordered together."""

    def select(self, rows: torch.Tensor,
               sentences: Optional[torch.Tensor] = None) -> "EnsembleState":
        return EnsembleState(state.select(rows, sentences) for state in self)

    @property
    def mask(self) -> Optional[torch.Tensor]:
        """The real memory positions (A, S): the members read the same source."""
        return self[0].mask

    @property
    def weights(self) -> Optional[torch.Tensor]:
        """The members' attention of the last step, averaged (N, S); None unless every
        member attends."""
        if any(state.weights is None for state in self):
            return None
        return torch.stack([state.weights.float() for state in self]).mean(dim=0)


class Ensemble(nn.Module):
    def __init__(self, models: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(models)

    def encode(self, src: Source) -> EnsembleState:
        return EnsembleState(m.encode(src) for m in self.members)

    def decode_step(self, tgt_ids: torch.Tensor,
                    state: EnsembleState) -> tuple[torch.Tensor, EnsembleState]:
        """(B,) tokens -> the members' mean log-probabilities (B, V), and their states."""
        steps = [m.decode_step(tgt_ids, s) for m, s in zip(self.members, state)]
        log_probs = torch.stack([lp for lp, _ in steps]).mean(dim=0)  # (B, V)
        return log_probs, EnsembleState(s for _, s in steps)


def check_shared_vocabulary(toks: list[Tokenizer], names: list[str]) -> None:
    """Members must read and write the same pieces: one line naming the odd one out."""
    first = toks[0]
    for tok, name in zip(toks[1:], names[1:]):
        for side in ("src", "tgt"):
            if _pieces(getattr(tok, side)) != _pieces(getattr(first, side)):
                raise ValueError(f"{name}: its {'source' if side == 'src' else 'target'} "
                                 f"vocabulary differs from {names[0]}'s; an ensemble needs "
                                 "one vocabulary")
        if tok.reverse_source != first.reverse_source:
            raise ValueError(f"{name}: reverse_source differs from {names[0]}'s")


def _pieces(sp) -> list[str]:
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
