"""The recurrent parts the models share: the state search carries, a stacked RNN, and one
time step of it.

`rnn_step` runs a stacked one-way RNN one position at a time on the RNN's own parameters:
an input-feeding decoder in training, and every decoder in search. Training (and any GPU)
uses torch's cells; search on a CPU computes the same function with its matrix product
on oneDNN (`onednn.lstm_gates`).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from seq2seq.models import int8, onednn


class State(NamedTuple):
    """Everything one decoding step needs.

    Per hypothesis: h, c (L, N, H) recurrent state (c is None for a GRU) and feed (N, H) the
    previous attentional vector (input feeding only). Per sentence (attention only): memory
    (A, S, H) encoder states, mask (A, S) True at real source positions, keys (A, S, H) the
    memory projected for `general` attention, once per sentence rather than at every step.
    N is a multiple of A: beam search keeps a sentence's K hypotheses in consecutive rows and
    its memory once, so reordering hypotheses never copies the memory. first (N, E): an
    input the decoder reads before <bos> (Show and Tell's image), consumed by its `start`.
    weights (N, S): the attention of the step that made this state, for search to keep
    when asked; `select` drops it, so carrying it costs nothing.
    """
    h: torch.Tensor
    c: Optional[torch.Tensor] = None
    feed: Optional[torch.Tensor] = None
    memory: Optional[torch.Tensor] = None
    mask: Optional[torch.Tensor] = None
    keys: Optional[torch.Tensor] = None
    first: Optional[torch.Tensor] = None
    weights: Optional[torch.Tensor] = None

    def select(self, rows: torch.Tensor, sentences: Optional[torch.Tensor] = None) -> "State":
        """Hypotheses `rows` and, when given, the memory of `sentences` (else kept as is).
        Search reorders hypotheses with this and drops the sentences that are done."""
        def pick(t: Optional[torch.Tensor], index, dim: int) -> Optional[torch.Tensor]:
            return None if t is None or index is None else t.index_select(dim, index)
        if sentences is None:
            return self._replace(h=pick(self.h, rows, 1), c=pick(self.c, rows, 1),
                                 feed=pick(self.feed, rows, 0), weights=None)
        return State(pick(self.h, rows, 1), pick(self.c, rows, 1), pick(self.feed, rows, 0),
                     pick(self.memory, sentences, 0), pick(self.mask, sentences, 0),
                     pick(self.keys, sentences, 0))

    def by_memory(self, rows: torch.Tensor) -> torch.Tensor:
        """(N, H) values of the hypotheses -> (A, N/A, H): those that read each memory,
        together (the layout search keeps with `select`)."""
        return rows.view(self.memory.size(0), -1, rows.size(-1))

    def rnn_state(self):
        return self.h if self.c is None else (self.h, self.c)


def stacked_rnn(cell: str, input_dim: int, hidden_dim: int, layers: int, dropout: float,
                bidirectional: bool = False) -> nn.RNNBase:
    """`layers` LSTM or GRU layers, batch first, `dropout` between layers."""
    kind = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
    return kind(input_dim, hidden_dim, layers, batch_first=True, bidirectional=bidirectional,
                dropout=dropout if layers > 1 else 0.0)


def rnn_step(rnn: nn.RNNBase, x: torch.Tensor, h: torch.Tensor, c: Optional[torch.Tensor]
             ) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """One time step of a stacked one-way `rnn` on its own parameters: the same function as
    `rnn(x.unsqueeze(1), (h, c))`. x (B, I), h and c (L, B, H) -> top output (B, H), h, c.

    A cell per layer rather than the layer call: for a single step the fused layer (oneDNN
    on CPU) costs about 3x as much forward + backward as `torch.lstm_cell` (measured at
    64 x 512, bf16: 32 against 11 ms), which made it half of input-feeding training.
    Dropout between layers as `rnn` applies it: in training, not after the top layer.
    """
    hs, cs = [], []
    for layer in range(rnn.num_layers):
        weights = [getattr(rnn, f"{name}_l{layer}", None)
                   for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if c is None:
            x = torch.gru_cell(x, h[layer], *weights)
        else:
            if int8.active(x):  # int8 search (decode.precision=int8)
                x, c_layer = int8.lstm_cell(x, h[layer], c[layer], rnn, layer)
            elif onednn.used_for(x):  # search on a CPU: torch.lstm_cell's function on oneDNN
                x, c_layer = _lstm_cell(onednn.lstm_gates(x, h[layer], rnn, layer), c[layer])
            else:  # training, and GPUs (a fused kernel)
                x, c_layer = torch.lstm_cell(x, (h[layer], c[layer]), *weights)
            cs.append(c_layer)
        hs.append(x)
        if layer < rnn.num_layers - 1:
            x = F.dropout(x, rnn.dropout, rnn.training)
    return x, torch.stack(hs), None if c is None else torch.stack(cs)


def _lstm_cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The LSTM's update from its gate pre-activations (B, 4H), in torch's order i, f, g, o."""
    H = c.size(1)
    i, f, _, o = torch.sigmoid(gates).chunk(4, dim=1)  # one call; g's sigmoid goes unused
    c = torch.addcmul(f * c, i, torch.tanh(gates[:, 2 * H:3 * H]))
    return o * torch.tanh(c), c
