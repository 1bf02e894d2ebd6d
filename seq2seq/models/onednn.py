"""Search's matrix products on a CPU: oneDNN, on weights packed once.

Search multiplies a few rows (the live hypotheses) by the same weights at every step. In
fp32 CPU inference (no autograd, no autocast) those products run on oneDNN's inner
product, 1.1-1.5x faster at these shapes than the MKL GEMM behind `F.linear` (64-320 rows
x 512-1280 -> 512-2048 on 2 AVX2 cores); the sums come in another order. Two more savings:

- each weight is reordered once into oneDNN's blocked layout, not at every call;
- an LSTM layer's input and recurrent products run as one, [x, h] times [W_ih, W_hh],
  with the two biases added up once.

Together 5-6% of greedy decoding. The packed weights derive from parameters and are kept per
module, as long as it lives, until a parameter changes: an in-place update (an optimizer
step, load_state_dict) bumps its version counter, a move or a new parameter changes its
storage. They are a second copy of the decoder's weights in memory (25 MB for the bench's
model: its decoding peak RSS went from 534 to 551 MB). Training, GPUs and autocast use
torch's own layers (oneDNN's backward pays conversions).
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from seq2seq.models import int8
from seq2seq.models.packed import derived



def used_for(x: torch.Tensor) -> bool:
    """Products with `x` run here: fp32 on a CPU, outside autograd and autocast."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled()
            and not torch.is_autocast_enabled("cpu") and torch.backends.mkldnn.enabled
            and _available())


def linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """`layer(x)`, on oneDNN with a packed weight where `used_for(x)` (in int8 inside
    int8.products(): seq2seq/models/int8.py)."""
    if not isinstance(layer.weight, torch.Tensor):  # a quantised layer (int8.quantised_copy)
        return layer(x)
    if int8.active(x):
        return int8.linear(x, layer)
    if not used_for(x):
        return layer(x)
    weight = derived(layer, "weight", (layer.weight,), _pack)
    return torch.ops.mkldnn._linear_pointwise(x, weight, layer.bias, "none", [], "")


def tanh_linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """tanh(linear(x, layer)); inside int8.products() computed another way (int8.py)."""
    if int8.active(x) and isinstance(layer.weight, torch.Tensor):
        return int8.tanh_linear(x, layer)
    return torch.tanh(linear(x, layer))


def lstm_gates(x: torch.Tensor, h: torch.Tensor, rnn: nn.LSTM, layer: int) -> torch.Tensor:
    """Layer `layer` of `rnn`'s gate pre-activations, x (B, I), h (B, H) -> (B, 4H):
    W_ih x + b_ih + W_hh h + b_hh as one product. Only where `used_for(x)`."""
    params = tuple(getattr(rnn, f"{name}_l{layer}")
                   for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    weight, bias = derived(rnn, f"gates_l{layer}", params, _pack_gates)
    return torch.ops.mkldnn._linear_pointwise(torch.cat([x, h], dim=1), weight, bias,
                                              "none", [], "")


def _pack(weight: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach())


def _pack_gates(w_ih, w_hh, b_ih, b_hh) -> tuple[torch.Tensor, torch.Tensor]:
    return _pack(torch.cat([w_ih, w_hh], dim=1)), (b_ih + b_hh).detach()


@functools.cache
def _available() -> bool:
    """This build has oneDNN's fp32 inner product and weight packing (x86 wheels do)."""
    try:
        one = torch.ones(1, 1)
        packed = torch.ops.mkldnn._reorder_linear_weight(one)
        return bool(torch.ops.mkldnn._linear_pointwise(one, packed, None, "none", [], "") == 1)
    except (AttributeError, NotImplementedError, RuntimeError):
        return False
