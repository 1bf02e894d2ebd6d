"""The encoder-decoder of Sutskever, Vinyals & Le (2014).

    source (reversed) --emb--> LSTM x L --(h, c) of every layer--+
                                                                 v
    <bos> y1 y2 ...  --emb--> LSTM x L (initial state = encoder's) --> linear --> p(y_t | y<t, x)

The encoder's final (h, c) of layer l initialises layer l of the decoder; nothing else flows
from source to target (no attention), so the whole sentence must fit in that state.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from seq2seq.config import ModelConfig
from seq2seq.tokenizer import PAD


class State(NamedTuple):
    """Recurrent state of the stacked decoder: h and c, each (L, B, H)."""
    h: torch.Tensor
    c: torch.Tensor

    def select(self, index: torch.Tensor) -> "State":
        """Rows `index` of the batch: beam search reorders hypotheses with this."""
        return State(self.h.index_select(1, index), self.c.index_select(1, index))


class Seq2Seq(nn.Module):
    def __init__(self, *, src_vocab: int, tgt_vocab: int, emb_dim: int, hidden_dim: int,
                 layers: int, dropout: float = 0.0, init_range: float = 0.08):
        super().__init__()
        self.src_emb = nn.Embedding(src_vocab, emb_dim)
        self.tgt_emb = nn.Embedding(tgt_vocab, emb_dim)
        self.encoder = nn.LSTM(emb_dim, hidden_dim, layers, batch_first=True,
                               dropout=dropout if layers > 1 else 0.0)
        self.decoder = nn.LSTM(emb_dim, hidden_dim, layers, batch_first=True,
                               dropout=dropout if layers > 1 else 0.0)
        self.out = nn.Linear(hidden_dim, tgt_vocab)
        self.drop = nn.Dropout(dropout)
        # Paper, section 3.4: "all of the LSTM's parameters with the uniform distribution
        # between -0.08 and 0.08" -- embeddings and output layer included.
        for p in self.parameters():
            nn.init.uniform_(p, -init_range, init_range)

    def encode(self, src_ids: torch.Tensor, src_lens: torch.Tensor) -> State:
        """Final state of every encoder layer; padding never reaches it."""
        x = self.drop(self.src_emb(src_ids))  # (B, S, E)
        if bool((src_lens == src_ids.size(1)).all()):
            # Training batches share one source length: no padding, no packing needed.
            _, (h, c) = self.encoder(x)
        else:
            packed = pack_padded_sequence(x, src_lens.cpu(), batch_first=True,
                                          enforce_sorted=False)
            _, (h, c) = self.encoder(packed)
        return State(h, c)  # (L, B, H) each

    def forward(self, src_ids: torch.Tensor, src_lens: torch.Tensor,
                tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: the decoder's top-layer output at every target position.

        The whole target goes through the decoder in one LSTM call. Positions after a
        sentence's end see padding, but the LSTM is causal, so earlier positions do not;
        the loss ignores the padded ones. Returns (B, T, H): `logits()` maps to the vocab.
        """
        state = self.encode(src_ids, src_lens)
        y = self.drop(self.tgt_emb(tgt_in))  # (B, T, E)
        out, _ = self.decoder(y, tuple(state))  # (B, T, H)
        return self.drop(out)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., H) -> (..., V) unnormalised scores over the target vocabulary."""
        return self.out(hidden)

    def decode_step(self, tgt_ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step for search: previous tokens (B,) and state -> log-probs (B, V), state."""
        y = self.tgt_emb(tgt_ids).unsqueeze(1)  # (B, 1, E)
        out, (h, c) = self.decoder(y, tuple(state))  # (B, 1, H)
        return F.log_softmax(self.out(out.squeeze(1)), dim=-1), State(h, c)


def token_loss(model: Seq2Seq, src_ids: torch.Tensor, src_lens: torch.Tensor,
               tgt_in: torch.Tensor, tgt_out: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy over the real (non-pad) target tokens.

    Only real positions are projected to the vocabulary: padding costs no (tokens x V) work.
    """
    hidden = model(src_ids, src_lens, tgt_in)  # (B, T, H)
    mask = tgt_out != PAD
    logits = model.logits(hidden[mask]).float()  # (N, V): fp32 even under bf16 autocast
    return F.cross_entropy(logits, tgt_out[mask], reduction="sum")


def build_model(cfg: ModelConfig, src_vocab: int, tgt_vocab: int) -> Seq2Seq:
    return Seq2Seq(src_vocab=src_vocab, tgt_vocab=tgt_vocab, emb_dim=cfg.emb_dim,
                   hidden_dim=cfg.hidden_dim, layers=cfg.layers, dropout=cfg.dropout,
                   init_range=cfg.init_range)
