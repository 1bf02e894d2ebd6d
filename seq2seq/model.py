"""The encoder-decoder of Sutskever, Vinyals & Le (2014), and the options around it.

    source (reversed) --emb--> RNN x L --(final state of every layer)--+
                                  |                                    v
                                  +-- memory (attention only) --> RNN x L --> [attention] --> linear
                                                                   ^
    <bos> y1 y2 ...  --emb-----------------------------------------+

The paper's model (the default) is LSTM cells, no attention, one direction: the encoder's
final (h, c) of layer l initialises layer l of the decoder and nothing else flows from
source to target, so the whole sentence must fit in that state. Options, each a constructor
argument: `cell` (lstm | gru), `bidirectional` (a bridge maps both directions to the
decoder's size), `attention` (none | dot | general: Luong et al. 2015, global) and
`input_feeding` (the previous attentional vector joins the next input). `LanguageModel`
is the decoder alone.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from seq2seq.config import ModelConfig
from seq2seq.onednn import linear
from seq2seq.recurrent import State, rnn_step, stacked_rnn
from seq2seq.tokenizer import PAD


class Encoder(nn.Module):
    """Source ids -> final state of every layer, and every position's top state (memory).

    `hidden_dim` units per direction; a bidirectional encoder's bridge maps both
    directions (2 x hidden_dim) to the decoder's `decoder_dim`.
    """

    def __init__(self, vocab: int, emb_dim: int, hidden_dim: int, layers: int, cell: str,
                 bidirectional: bool, dropout: float, decoder_dim: int):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb_dim)
        self.rnn = stacked_rnn(cell, emb_dim, hidden_dim, layers, dropout, bidirectional)
        self.drop = nn.Dropout(dropout)
        both = 2 * hidden_dim
        self.bridge = nn.Linear(both, decoder_dim) if bidirectional else None
        self.bridge_c = (nn.Linear(both, decoder_dim)
                         if bidirectional and cell == "lstm" else None)

    def forward(self, src_ids: torch.Tensor, src_lens: torch.Tensor) -> State:
        x = self.drop(self.emb(src_ids))  # (B, S, E)
        if bool((src_lens == src_ids.size(1)).all()):
            # Training batches share one source length: no padding, no packing needed.
            memory, final = self.rnn(x)  # (B, S, D*H)
            h, c = final if isinstance(final, tuple) else (final, None)  # (L*D, B, H)
        else:
            memory, h, c = self._by_length(x, src_lens)
        mask = torch.arange(src_ids.size(1), device=src_ids.device) < src_lens.unsqueeze(1)
        if self.bridge is None:
            return State(h, c, memory=memory, mask=mask)
        return State(self._join(h, self.bridge, squash=True),
                     None if c is None else self._join(c, self.bridge_c, squash=False),
                     memory=memory, mask=mask)  # memory (B, S, 2H): see to_decoder_size

    def _by_length(self, x: torch.Tensor, src_lens: torch.Tensor):
        """Mixed lengths (search batches): one RNN call per length, each without padding, so
        the states are exact. Faster than a PackedSequence, which steps through time with
        per-step products where an unpacked call runs oneDNN's whole-sequence kernel.

        x (B, S, E) -> memory (B, S, D*H), h and c (L*D, B, H), in the dtype the RNN
        returns: under bf16 autocast oneDNN's LSTM returns bf16, torch's own kernels fp32
        (x, an embedding, is fp32 either way), so they are allocated from its first output.
        """
        B, S = src_lens.numel(), x.size(1)
        memory = h = c = None
        for length in src_lens.unique().tolist():
            rows = (src_lens == length).nonzero().flatten().to(x.device)
            out, final = self.rnn(x[rows, :length])  # (b, length, D*H)
            part_h, part_c = final if isinstance(final, tuple) else (final, None)  # (L*D, b, H)
            if memory is None:
                memory = out.new_zeros(B, S, out.size(2))
                h = part_h.new_zeros(part_h.size(0), B, part_h.size(2))
                c = None if part_c is None else part_c.new_zeros(h.shape)
            memory[rows, :length] = out
            h[:, rows] = part_h
            if c is not None:
                c[:, rows] = part_c
        return memory, h, c

    def to_decoder_size(self, memory: torch.Tensor) -> torch.Tensor:
        """(B, S, D*He) -> (B, S, H): attention compares the decoder's state with these."""
        if self.bridge is None:
            return memory
        return torch.tanh(linear(memory, self.bridge))

    def _join(self, state: torch.Tensor, bridge: nn.Linear, squash: bool) -> torch.Tensor:
        """(L*2, B, He) forward/backward finals -> (L, B, H) through the bridge."""
        L2, B, H = state.shape
        both = state.view(L2 // 2, 2, B, H).permute(0, 2, 1, 3).reshape(L2 // 2, B, 2 * H)
        out = bridge(both)
        return torch.tanh(out) if squash else out


class Attention(nn.Module):
    """Luong global attention: dot (h . m) or general (h W m); padding gets zero weight."""

    def __init__(self, hidden_dim: int, score: str):
        super().__init__()
        self.proj = nn.Linear(hidden_dim, hidden_dim, bias=False) if score == "general" else None
        self.combine = nn.Linear(2 * hidden_dim, hidden_dim, bias=False)

    def keys(self, memory: torch.Tensor) -> Optional[torch.Tensor]:
        """What queries are compared with: W m (general), or None for the memory itself."""
        return None if self.proj is None else linear(memory, self.proj)

    def forward(self, query: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor,
                keys: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, T, H), memory (B, S, H), mask (B, S) -> attentional (B, T, H), weights.

        `keys`: `self.keys(memory)` when already computed (a decoder loop reuses them)."""
        if keys is None:
            keys = self.keys(memory)
        keys = memory if keys is None else keys  # dot: the memory itself
        scores = query @ keys.transpose(1, 2)  # (B, T, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = scores.softmax(dim=-1)  # exactly 0 where masked
        context = weights @ memory  # (B, T, H)
        combined = linear(torch.cat([context, query], dim=-1), self.combine)
        return torch.tanh(combined), weights


class Seq2Seq(nn.Module):
    def __init__(self, *, src_vocab: int, tgt_vocab: int, emb_dim: int, hidden_dim: int,
                 layers: int, dropout: float = 0.0, init_range: float = 0.08,
                 cell: str = "lstm", bidirectional: bool = False, attention: str = "none",
                 input_feeding: bool = False, encoder_hidden_dim: Optional[int] = None):
        super().__init__()
        if input_feeding and attention == "none":
            raise ValueError("input feeding needs attention")
        encoder_dim = encoder_hidden_dim or hidden_dim
        if encoder_dim != hidden_dim and not bidirectional:
            raise ValueError("a one-way encoder has the decoder's size (its states start it)")
        self.encoder = Encoder(src_vocab, emb_dim, encoder_dim, layers, cell, bidirectional,
                               dropout, decoder_dim=hidden_dim)
        self.tgt_emb = nn.Embedding(tgt_vocab, emb_dim)
        self.input_feeding = input_feeding
        self.decoder = stacked_rnn(cell, emb_dim + (hidden_dim if input_feeding else 0),
                                   hidden_dim, layers, dropout)
        self.attention = None if attention == "none" else Attention(hidden_dim, attention)
        self.out = nn.Linear(hidden_dim, tgt_vocab)
        self.drop = nn.Dropout(dropout)
        # Paper, section 3.4: "all of the LSTM's parameters with the uniform distribution
        # between -0.08 and 0.08" -- embeddings, output layer and the options' layers too.
        for p in self.parameters():
            nn.init.uniform_(p, -init_range, init_range)

    def encode(self, src_ids: torch.Tensor, src_lens: torch.Tensor) -> State:
        """The decoder's initial state; padding never reaches it."""
        state = self.encoder(src_ids, src_lens)
        if self.attention is None:  # the paper's model carries no memory into the search
            return State(state.h, state.c)
        feed = state.h.new_zeros(state.h.shape[1:]) if self.input_feeding else None
        memory = self.encoder.to_decoder_size(state.memory)  # (B, S, H)
        return state._replace(feed=feed, memory=memory, keys=self.attention.keys(memory))

    def forward(self, src_ids: torch.Tensor, src_lens: torch.Tensor,
                tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: the decoder's output at every target position, (B, T, H).

        Without input feeding the whole target goes through the decoder in one RNN call
        (and attention, if any, in one batched product). Positions after a sentence's end
        see padding, but the decoder is causal, so earlier positions do not; the loss
        ignores the padded ones. `logits()` maps the output to the vocabulary.
        """
        state = self.encode(src_ids, src_lens)
        y = self.drop(self.tgt_emb(tgt_in))  # (B, T, E)
        if self.input_feeding:  # each step needs the last one's output: a loop
            steps = []
            for t in range(tgt_in.size(1)):
                out, state = self._step(y[:, t], state)
                steps.append(out)
            return torch.stack(steps, dim=1)
        out, _ = self.decoder(y, state.rnn_state())  # (B, T, H)
        if self.attention is not None:
            out, _ = self.attention(out, state.memory, state.mask, state.keys)
        return self.drop(out)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., H) -> (..., V) unnormalised scores over the target vocabulary."""
        return self.out(hidden)

    def decode_step(self, tgt_ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step for search: previous tokens (B,) and state -> log-probs (B, V), state."""
        out, state = self._step(self.drop(self.tgt_emb(tgt_ids)), state)
        logits = linear(out, self.out)
        return F.log_softmax(logits.float(), dim=-1), state  # fp32 scores

    def _step(self, y: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """(N, E) embedded tokens -> the decoder's output (N, H) and the next state."""
        if self.input_feeding:
            y = torch.cat([y, state.feed], dim=-1)  # (B, E + H)
        out, h, c = rnn_step(self.decoder, y, state.h, state.c)  # (B, H)
        if self.attention is not None:  # a sentence's hypotheses query its memory together
            A, H = state.memory.size(0), out.size(-1)
            out, _ = self.attention(out.view(A, -1, H), state.memory, state.mask, state.keys)
            out = out.reshape(-1, H)  # (A, K, H) -> (N, H)
        out = self.drop(out)  # (N, H)
        feed = out if self.input_feeding else None
        return out, State(h, c, feed, state.memory, state.mask, state.keys)


class LanguageModel(nn.Module):
    """The decoder alone: a recurrent language model (Mikolov et al. 2010, with LSTM cells).

        <bos> y1 y2 ... --emb--> RNN x L (zero initial state) --> linear --> p(y_t | y<t)

    The same interface as `Seq2Seq`, so training, perplexity and search work on it
    unchanged; the source arguments are accepted and ignored (`experiment=lm_en`).
    """

    def __init__(self, *, vocab: int, emb_dim: int, hidden_dim: int, layers: int,
                 dropout: float = 0.0, init_range: float = 0.08, cell: str = "lstm"):
        super().__init__()
        self.tgt_emb = nn.Embedding(vocab, emb_dim)
        self.decoder = stacked_rnn(cell, emb_dim, hidden_dim, layers, dropout)
        self.out = nn.Linear(hidden_dim, vocab)
        self.drop = nn.Dropout(dropout)
        for p in self.parameters():
            nn.init.uniform_(p, -init_range, init_range)

    def encode(self, src_ids: torch.Tensor, src_lens: torch.Tensor) -> State:
        """A zero state for each of the B rows; the source itself is not read."""
        d = self.decoder
        h = src_ids.new_zeros((d.num_layers, src_ids.size(0), d.hidden_size),
                              dtype=self.out.weight.dtype)
        return State(h, h.clone() if isinstance(d, nn.LSTM) else None)

    def forward(self, src_ids: torch.Tensor, src_lens: torch.Tensor,
                tgt_in: torch.Tensor) -> torch.Tensor:
        """(B, T) tokens -> the top layer's output at every position, (B, T, H)."""
        state = self.encode(src_ids, src_lens)
        out, _ = self.decoder(self.drop(self.tgt_emb(tgt_in)), state.rnn_state())
        return self.drop(out)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.out(hidden)

    def decode_step(self, tgt_ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """(B,) previous tokens -> log-probabilities (B, V) of the next, and the state."""
        out, h, c = rnn_step(self.decoder, self.tgt_emb(tgt_ids), state.h, state.c)  # (B, H)
        logits = linear(out, self.out)
        return F.log_softmax(logits.float(), dim=-1), State(h, c)


def token_loss(model: Seq2Seq, src_ids: torch.Tensor, src_lens: torch.Tensor,
               tgt_in: torch.Tensor, tgt_out: torch.Tensor,
               label_smoothing: float = 0.0) -> torch.Tensor:
    """Summed cross-entropy over the real (non-pad) target tokens.

    Only real positions are projected to the vocabulary: padding costs no (tokens x V) work.
    """
    hidden = model(src_ids, src_lens, tgt_in)  # (B, T, H)
    mask = tgt_out != PAD
    logits = model.logits(hidden[mask]).float()  # (N, V): fp32 even under bf16 autocast
    return F.cross_entropy(logits, tgt_out[mask], reduction="sum",
                           label_smoothing=label_smoothing)


class TokenLoss(nn.Module):
    """`token_loss` as a module: data parallelism (DDP) wraps the whole objective."""

    def __init__(self, model: nn.Module, label_smoothing: float = 0.0):
        super().__init__()
        self.model, self.label_smoothing = model, label_smoothing

    def forward(self, src_ids: torch.Tensor, src_lens: torch.Tensor, tgt_in: torch.Tensor,
                tgt_out: torch.Tensor) -> torch.Tensor:
        return token_loss(self.model, src_ids, src_lens, tgt_in, tgt_out, self.label_smoothing)


def build_model(cfg: ModelConfig, src_vocab: int, tgt_vocab: int) -> nn.Module:
    if cfg.language_model:
        return LanguageModel(vocab=tgt_vocab, emb_dim=cfg.emb_dim, hidden_dim=cfg.hidden_dim,
                             layers=cfg.layers, dropout=cfg.dropout, init_range=cfg.init_range,
                             cell=cfg.cell)
    return Seq2Seq(src_vocab=src_vocab, tgt_vocab=tgt_vocab, emb_dim=cfg.emb_dim,
                   hidden_dim=cfg.hidden_dim, layers=cfg.layers, dropout=cfg.dropout,
                   init_range=cfg.init_range, cell=cfg.cell, bidirectional=cfg.bidirectional,
                   attention=cfg.attention, input_feeding=cfg.input_feeding,
                   encoder_hidden_dim=cfg.encoder_hidden_dim)
