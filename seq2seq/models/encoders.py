"""Encoders: a `Source` in, the decoder's initial `State` out.

    SequenceEncoder   input layer (an Embedding of token ids; later a Linear over frame
                      features) -> stacked RNN, one or both directions -> final state of
                      every layer, and every position's top state (memory, for attention)
    NoEncoder         a zero state: the decoder alone is a language model

An encoder is any module with `forward(source, memory: bool) -> State` and `layers`,
`hidden_dim` and `cell` matching the decoder it starts. Which one a run uses is
`model.encoder.build` in the config: the dotted path of a function `(ModelConfig, source
vocabulary size) -> encoder`, so a new encoder is a module and a seq2seq/conf/model/encoder file.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from seq2seq.config.compose import ModelConfig
from seq2seq.data.sources import Source
from seq2seq.models.onednn import tanh_linear
from seq2seq.models.recurrent import State, stacked_rnn


class SequenceEncoder(nn.Module):
    """A sequence -> final state of every layer (the paper's model: all the decoder gets),
    and, when asked, every position's top state at the decoder's size (memory).

    `hidden_dim` units per direction; a bidirectional encoder's bridge maps both
    directions (2 x hidden_dim) to the decoder's `decoder_dim`.
    """

    def __init__(self, embed: nn.Module, rnn: nn.RNNBase, dropout: float,
                 decoder_dim: int):
        super().__init__()
        self.embed, self.rnn, self.drop = embed, rnn, nn.Dropout(dropout)
        self.layers, self.hidden_dim = rnn.num_layers, decoder_dim
        self.cell = "lstm" if isinstance(rnn, nn.LSTM) else "gru"
        both = 2 * rnn.hidden_size
        self.bridge = nn.Linear(both, decoder_dim) if rnn.bidirectional else None
        # None where nothing reads the cell state (a classifier's head): c is then None too
        self.bridge_c = (nn.Linear(both, decoder_dim)
                         if rnn.bidirectional and self.cell == "lstm" else None)

    def forward(self, src: Source, memory: bool) -> State:
        """The decoder's initial state; padding never reaches it. `memory`: also every
        position's top state (B, S, H) and the mask of real positions (B, S)."""
        x = self.drop(self.embed(src.values))  # (B, S, E)
        if bool((src.lens == x.size(1)).all()):
            # Training batches share one source length: no padding, no packing needed.
            out, final = self.rnn(x)  # (B, S, D*H)
            h, c = final if isinstance(final, tuple) else (final, None)  # (L*D, B, H)
        elif self.rnn.bidirectional:
            out, h, c = self._by_length(x, src.lens)
        else:
            out, h, c = self._through_lengths(x, src.lens)
        if self.bridge is not None:
            h = self._join(h, self.bridge, squash=True)  # (L, B, H)
            c = None if c is None or self.bridge_c is None else self._join(c, self.bridge_c,
                                                                           squash=False)
        if not memory:  # the paper's model carries no memory into the search
            return State(h, c)
        mask = torch.arange(x.size(1), device=x.device) < src.lens.unsqueeze(1)  # (B, S)
        if self.bridge is not None:
            out = tanh_linear(out, self.bridge)  # (B, S, 2He) -> (B, S, H)
        return State(h, c, memory=out, mask=mask)

    def _by_length(self, x: torch.Tensor, lens: torch.Tensor):
        """Mixed lengths, both directions (the backward one starts at each row's own end): one
        RNN call per length, each without padding, so the states are exact. Faster than a
        PackedSequence, which steps through time with per-step products where an unpacked
        call runs oneDNN's whole-sequence kernel.

        x (B, S, E) -> memory (B, S, D*H), h and c (L*D, B, H), in the dtype the RNN
        returns: under bf16 autocast oneDNN's LSTM returns bf16, torch's own kernels fp32
        (x, an embedding, is fp32 either way), so they are allocated from its first output.
        """
        B, S = lens.numel(), x.size(1)
        memory = h = c = None
        for length in lens.unique().tolist():
            rows = (lens == length).nonzero().flatten().to(x.device)
            out, final = self.rnn(x[rows, :length])  # (b, length, D*H)
            part_h, part_c = final if isinstance(final, tuple) else (final, None)  # (L*D, b, H)
            if memory is None:
                memory, h, c = _zeros_like_outputs(out, part_h, part_c, B, S)
            memory[rows, :length] = out
            h[:, rows] = part_h
            if c is not None:
                c[:, rows] = part_c
        return memory, h, c

    def _through_lengths(self, x: torch.Tensor, lens: torch.Tensor):
        """Mixed lengths, one direction: time cut at each distinct length, each piece one RNN
        call over the rows still going, from the states the last piece left them in. Each
        row's states are those of its own unpadded sequence, and the RNN steps through the
        longest source once rather than through every length from its start (a server's
        batches of ~12 sentences of 9 lengths: 1.25x faster than `_by_length`).

        x (B, S, E) -> memory (B, S, H), h and c (L, B, H), as `_by_length`.
        """
        B, S = lens.numel(), x.size(1)
        memory = h = c = None
        start, carried = 0, None
        going = torch.arange(B, device=x.device)  # rows whose source goes on past `start`
        for length in lens.unique().tolist():  # ascending
            out, final = self.rnn(x[going, start:length], carried)  # (g, length - start, H)
            part_h, part_c = final if isinstance(final, tuple) else (final, None)  # (L, g, H)
            if memory is None:
                memory, h, c = _zeros_like_outputs(out, part_h, part_c, B, S)
            memory[going, start:length] = out
            ends = lens[going] == length
            h[:, going[ends]] = part_h[:, ends]
            if c is not None:
                c[:, going[ends]] = part_c[:, ends]
            going, on = going[~ends], ~ends
            carried = part_h[:, on] if part_c is None else (part_h[:, on], part_c[:, on])
            start = length
        return memory, h, c

    def _join(self, state: torch.Tensor, bridge: nn.Linear, squash: bool) -> torch.Tensor:
        """(L*2, B, He) forward/backward finals -> (L, B, H) through the bridge."""
        L2, B, H = state.shape
        both = state.view(L2 // 2, 2, B, H).permute(0, 2, 1, 3).reshape(L2 // 2, B, 2 * H)
        out = bridge(both)
        return torch.tanh(out) if squash else out


def _zeros_like_outputs(out: torch.Tensor, h: torch.Tensor, c: Optional[torch.Tensor],
                        rows: int, width: int):
    """Zero memory (rows, width, D*H) and states (L*D, rows, H) in the dtypes of one RNN
    call's outputs, for a batch's pieces to be written into."""
    zero_h = h.new_zeros(h.size(0), rows, h.size(2))
    return (out.new_zeros(rows, width, out.size(2)), zero_h,
            None if c is None else c.new_zeros(zero_h.shape))


class NoEncoder(nn.Module):
    """A zero initial state for each row; the source is not read (a language model:
    Mikolov et al. 2010, with LSTM cells)."""

    def __init__(self, layers: int, hidden_dim: int, cell: str):
        super().__init__()
        self.layers, self.hidden_dim, self.cell = layers, hidden_dim, cell

    def forward(self, src: Source, memory: bool) -> State:
        h = torch.zeros(self.layers, src.rows, self.hidden_dim, device=src.lens.device)
        return State(h, h.clone() if self.cell == "lstm" else None)


def text_encoder(cfg: ModelConfig, src_vocab: int) -> SequenceEncoder:
    """The paper's encoder: source token embeddings -> stacked LSTM (or GRU), one way or
    both (`model.encoder.bidirectional`, `model.encoder.hidden_dim` per direction)."""
    e = cfg.encoder
    return SequenceEncoder(
        nn.Embedding(src_vocab, cfg.emb_dim),
        stacked_rnn(cfg.cell, cfg.emb_dim, e.hidden_dim or cfg.hidden_dim, cfg.layers,
                    cfg.dropout, e.bidirectional),
        cfg.dropout, decoder_dim=cfg.hidden_dim)


def no_encoder(cfg: ModelConfig, src_vocab: int) -> NoEncoder:
    """No source at all: `experiment=lm_en`."""
    return NoEncoder(cfg.layers, cfg.hidden_dim, cfg.cell)


# What each builder reads (seq2seq/config/checks.py matches it with the task's `reads`); an
# encoder builder without the attribute reads text.
text_encoder.reads = "text"
no_encoder.reads = "nothing"
