"""The decoder: target tokens and the encoder's state in, a distribution over the next
token out, either at every position at once (teacher forcing) or one step at a time
(search).

    <bos> y1 y2 ... --embed--> RNN x L --> [attention over the memory] --> out: logits
                        ^ (input feeding: the previous attentional vector joins the input)
    initial state: the encoder's (h, c) of every layer

The paper's decoder is LSTM cells without attention. Options: `cell` (lstm | gru),
`attention` (Luong et al. 2015, global: dot | general) and `input_feeding`.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from seq2seq.config.compose import ModelConfig
from seq2seq.models.onednn import linear, tanh_linear
from seq2seq.models.recurrent import State, rnn_step, stacked_rnn


class Attention(nn.Module):
    """Luong global attention: dot (h . m) or general (h W m); padding gets zero weight."""

    def __init__(self, hidden_dim: int, score: str):
        super().__init__()
        self.proj = nn.Linear(hidden_dim, hidden_dim, bias=False) if score == "general" else None
        self.combine = nn.Linear(2 * hidden_dim, hidden_dim, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """What queries are compared with: W m (general) or the memory itself (dot);
        computed once per sentence, not at every step."""
        return memory if self.proj is None else linear(memory, self.proj)

    def forward(self, query: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor,
                keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """query (A, T, H), memory and keys (A, S, H), mask (A, S) -> attentional (A, T, H)
        and the weights (A, T, S) it was made with."""
        scores = query @ keys.transpose(1, 2)  # (A, T, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = scores.softmax(dim=-1)  # exactly 0 where masked
        context = weights @ memory  # (A, T, H)
        return tanh_linear(torch.cat([context, query], dim=-1), self.combine), weights


class RecurrentDecoder(nn.Module):
    def __init__(self, embed: nn.Embedding, rnn: nn.RNNBase, attention: Optional[Attention],
                 out: nn.Linear, dropout: float, input_feeding: bool = False):
        super().__init__()
        if input_feeding and attention is None:
            raise ValueError("input feeding needs attention")
        self.embed, self.rnn, self.attention, self.out = embed, rnn, attention, out
        self.drop, self.input_feeding = nn.Dropout(dropout), input_feeding

    @property
    def reads_memory(self) -> bool:
        """Whether the encoder must keep every position's state (attention), or only its
        final state (the paper)."""
        return self.attention is not None

    def start(self, state: State) -> State:
        """The encoder's state as this decoder's first: attention's keys, computed once,
        a zero previous attentional vector (input feeding), and one step on the encoder's
        `first` input when it gives one (an image's feature vector: Show and Tell)."""
        if self.attention is not None:
            feed = state.h.new_zeros(state.h.shape[1:]) if self.input_feeding else None
            state = state._replace(feed=feed, keys=self.attention.keys(state.memory))
        if state.first is not None:  # its output predicts nothing; the state carries it
            _, state = self._step(self.drop(state.first), state)
        return state

    def forward(self, tgt_in: torch.Tensor, state: State) -> torch.Tensor:
        """Teacher forcing: the output at every target position, (B, T, H).

        Without input feeding the whole target goes through the RNN in one call (and
        attention, if any, in one batched product). Positions after a sentence's end see
        padding, but the decoder is causal, so earlier positions do not; the loss ignores
        the padded ones. `logits()` maps the output to the vocabulary.
        """
        return self._teacher_forced(tgt_in, state)[0]

    def attention_weights(self, tgt_in: torch.Tensor, state: State) -> torch.Tensor:
        """Teacher forcing's attention: at each target position, the weights over the
        memory (B, T, S) with which it predicted the next token."""
        if self.attention is None:
            raise ValueError("this model has no attention (model.decoder.attention=none)")
        return self._teacher_forced(tgt_in, state)[1]

    def _teacher_forced(self, tgt_in: torch.Tensor, state: State
                        ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        y = self.drop(self.embed(tgt_in))  # (B, T, E)
        if self.input_feeding:  # each step needs the last one's output: a loop
            steps, weights = [], []
            for t in range(tgt_in.size(1)):
                out, state = self._step(y[:, t], state)
                steps.append(out)
                weights.append(state.weights)
            return torch.stack(steps, dim=1), torch.stack(weights, dim=1)
        out, _ = self.rnn(y, state.rnn_state())  # (B, T, H)
        weights = None
        if self.attention is not None:
            out, weights = self.attention(out, state.memory, state.mask, state.keys)
        return self.drop(out), weights

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., H) -> (..., V) unnormalised scores over the target vocabulary."""
        return self.out(hidden)

    def decode_step(self, tgt_ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step for search: previous tokens (N,) and state -> log-probs (N, V), state."""
        out, state = self._step(self.drop(self.embed(tgt_ids)), state)
        return F.log_softmax(linear(out, self.out).float(), dim=-1), state  # fp32 scores

    def _step(self, y: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """(N, E) embedded tokens -> the output (N, H) and the next state."""
        if self.input_feeding:
            y = torch.cat([y, state.feed], dim=-1)  # (N, E + H)
        out, h, c = rnn_step(self.rnn, y, state.h, state.c)  # (N, H)
        weights = None
        if self.attention is not None:  # each memory's rows query it together
            query = state.by_memory(out)  # (A, N/A, H)
            out, weights = self.attention(query, state.memory, state.mask, state.keys)
            out, weights = out.flatten(0, 1), weights.flatten(0, 1)  # (N, H), (N, S)
        out = self.drop(out)  # (N, H)
        return out, State(h, c, out if self.input_feeding else None, state.memory,
                          state.mask, state.keys, weights=weights)


def recurrent_decoder(cfg: ModelConfig, tgt_vocab: int) -> RecurrentDecoder:
    """Target embeddings -> stacked LSTM (or GRU) -> [attention] -> vocabulary."""
    d, H = cfg.decoder, cfg.hidden_dim
    return RecurrentDecoder(
        nn.Embedding(tgt_vocab, cfg.emb_dim),
        stacked_rnn(cfg.cell, cfg.emb_dim + (H if d.input_feeding else 0), H, cfg.layers,
                    cfg.dropout),
        None if d.attention == "none" else Attention(H, d.attention),
        nn.Linear(H, tgt_vocab), cfg.dropout, d.input_feeding)


recurrent_decoder.writes = "text"  # seq2seq/config/checks.py: what the task's `writes` must be
