"""An encoder of our own, plugged in from outside the package: the mean of the source
embeddings, through a linear map and tanh, starts every decoder layer (its memory, for
attention, is each position's embedding through the same map).

    seq2seq-train hydra.searchpath=[file://tests/plugins/conf] model/encoder=mean
    (with tests/plugins on PYTHONPATH)

Nothing in seq2seq/ names it: the config's `model.encoder.build` does.
"""
from __future__ import annotations

import torch
from torch import nn

from seq2seq.config.compose import ModelConfig
from seq2seq.data.sources import Source
from seq2seq.models.recurrent import State


class MeanEncoder(nn.Module):
    def __init__(self, embed: nn.Embedding, layers: int, hidden_dim: int, cell: str):
        super().__init__()
        self.embed, self.proj = embed, nn.Linear(embed.embedding_dim, hidden_dim)
        self.layers, self.hidden_dim, self.cell = layers, hidden_dim, cell

    def forward(self, src: Source, memory: bool) -> State:
        x = self.embed(src.values)  # (B, S, E)
        mask = torch.arange(x.size(1), device=x.device) < src.lens.unsqueeze(1)  # (B, S)
        mean = (x * mask.unsqueeze(-1)).sum(1) / src.lens.clamp(min=1).unsqueeze(1)  # (B, E)
        h = torch.tanh(self.proj(mean)).expand(self.layers, -1, -1).contiguous()  # (L, B, H)
        c = torch.zeros_like(h) if self.cell == "lstm" else None
        if not memory:
            return State(h, c)
        return State(h, c, memory=torch.tanh(self.proj(x)), mask=mask)


def build(cfg: ModelConfig, src_vocab: int) -> MeanEncoder:
    return MeanEncoder(nn.Embedding(src_vocab, cfg.emb_dim), cfg.layers, cfg.hidden_dim,
                       cfg.cell)
