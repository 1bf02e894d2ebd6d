"""int8 search on a CPU (decode.precision=int8, --precision int8): lossy, and faster where
the CPU multiplies int8 quickly (VNNI).

Inside `products()`, search's matrix products that go through onednn.py (the output layer,
each decoder LSTM layer's input and recurrent products as one, attention's and the
bridge's) run on fbgemm's dynamic int8 GEMM (`torch.ops.quantized.linear_dynamic`, the
kernel behind torch's and torchao's dynamic quantisation): the weights quantised once to
int8, symmetric, one scale per output channel; each step's activations quantised as they
come, one scale per row (per hypothesis); int32 sums, fp32 out. fbgemm picks one scale per
product from the whole batch's range, which would make a sentence's translation depend on
its batch; so each row is first divided by its own largest magnitude, and a row spanning
[-1, 1] is added: the batch's range is then always [-1, 1], its quantisation fixed, and
each row's result its own (batching changes no result, as in fp32). Everything else (embeddings, the
encoder's LSTM over the whole source, softmax, scores) stays fp32. On a CPU without VNNI
the activations keep 7 bits (fbgemm's reduce_range: its 16-bit partial sums would
overflow otherwise).

The int8 weights derive from the parameters like onednn's packed ones (kept per module,
remade when a parameter changes): a second copy, a quarter of the fp32 size.
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import os
import warnings
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

from seq2seq.models.packed import derived

_ON: contextvars.ContextVar[bool] = contextvars.ContextVar("int8_products", default=False)


@contextlib.contextmanager
def products() -> Iterator[None]:
    """Search's products in int8 within the block (this thread or task only)."""
    token = _ON.set(True)
    try:
        yield
    finally:
        _ON.reset(token)


def active(x: torch.Tensor) -> bool:
    """Whether a product with `x` runs here: inside `products()`, fp32 on a CPU."""
    return (_ON.get() and x.device.type == "cpu" and x.dtype == torch.float32
            and not torch.is_grad_enabled())


def linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """`layer(x)` with int8 weights and x quantised on the fly; x (..., in)."""
    packed = derived(layer, "int8", (layer.weight,), _prepack)
    out = _run(x, packed)
    return out if layer.bias is None else out + layer.bias


def tanh_linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """tanh(layer(x)) as 2 sigmoid(2 layer(x)) - 1: torch's fp32 tanh costs about 7 times
    its sigmoid on a CPU (118 against 17 us at 320 x 256), and the 2 rides in the int8
    weights' scales (2W quantises to the same integers), so it costs nothing."""
    packed = derived(layer, "int8_x2", (layer.weight,), lambda w: _prepack(2 * w))
    z = _run(x, packed)
    if layer.bias is not None:
        z = z.add_(layer.bias, alpha=2)
    return _tanh_from(torch.sigmoid(z))


def lstm_cell(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, rnn: nn.LSTM, layer: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM layer's step in int8: x (B, I), h and c (B, H) -> h, c. [x, h] times
    [W_ih, W_hh] as one product, the biases summed; the cell gate's rows doubled so that
    one sigmoid over all four gates gives sigmoid(2g), and tanh(g) = 2 sigmoid(2g) - 1
    (tanh_linear's reason); tanh(c) likewise."""
    params = tuple(getattr(rnn, f"{name}_l{layer}")
                   for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    packed, bias = derived(rnn, f"int8_gates_l{layer}", params, _prepack_gates)
    gates = torch.sigmoid(_run([x, h], packed).add_(bias))  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=1)  # torch's order; g holds sigmoid(2g)
    c = torch.addcmul(torch.mul(f, c).sub_(i), i, g, value=2)  # f c + i tanh(g)
    return _tanh_from(torch.sigmoid(2 * c)).mul_(o), c


def _tanh_from(s: torch.Tensor) -> torch.Tensor:
    """tanh(z) from s = sigmoid(2z), in place."""
    return s.mul_(2).sub_(1)


def _prepack_gates(w_ih, w_hh, b_ih, b_hh):
    """The packed [W_ih, W_hh] and the summed bias, the cell gate's (the third quarter)
    doubled."""
    w, b = torch.cat([w_ih, w_hh], dim=1).detach().clone(), (b_ih + b_hh).detach().clone()
    H = w.size(0) // 4
    w[2 * H:3 * H] *= 2
    b[2 * H:3 * H] *= 2
    return _prepack(w), b


def _run(x: torch.Tensor | list[torch.Tensor], packed) -> torch.Tensor:
    """x (..., in) times the packed weight, each row quantised on its own scale; x may be
    a list of tensors (R, in_i) side by side (their concatenation, without making it)."""
    parts = x if isinstance(x, list) else [x.reshape(-1, x.size(-1))]
    R, width = parts[0].size(0), sum(t.size(1) for t in parts)
    unit = parts[0].new_empty(R + 1, width)  # (R + 1, in): the rows, then the span
    start = 0
    for t in parts:
        unit[:R, start:start + t.size(1)].copy_(t)
        start += t.size(1)
    rows = unit[:R]
    peak = rows.abs().amax(dim=1, keepdim=True).clamp_(min=1e-30)  # (R, 1)
    rows.div_(peak)  # each row's peak 1
    unit[R:].copy_(_span(width))
    out = torch.ops.quantized.linear_dynamic(unit, packed, not vnni())[:R].mul_(peak)
    return out if isinstance(x, list) else out.view(*x.shape[:-1], out.size(-1))


@functools.lru_cache(maxsize=64)
def _span(width: int) -> torch.Tensor:
    """The row that fixes the batch's range to [-1, 1], whatever its rows hold: (1, width)."""
    span = torch.zeros(1, width)
    span[0, 0], span[0, -1] = 1.0, -1.0
    return span


def _prepack(weight: torch.Tensor):
    """fbgemm's packed int8 weight: symmetric, one scale per output channel (row)."""
    w = weight.detach().float()
    scales = (w.abs().amax(dim=1) / 127).clamp(min=1e-12).double()
    with warnings.catch_warnings():  # torch 2.13 deprecates qint8 tensors for torchao's,
        warnings.simplefilter("ignore", UserWarning)  # which pack for this same kernel
        q = torch.quantize_per_channel(w, scales, torch.zeros_like(scales, dtype=torch.long),
                                       0, torch.qint8)
    return torch.ops.quantized.linear_prepack(q, None)


def quantised_copy(model: nn.Module) -> nn.Module:
    """A copy of `model` whose LSTMs and linear layers run on fbgemm's dynamic int8
    kernels (torch's quantize_dynamic): for models that read whole sentences at once
    (classifiers, taggers), whose LSTM layers are not stepped through onednn.py. Weights
    per output channel, activations per tensor: one scale for a batch's rows, so scores
    may move with what a batch holds, by about what int8 moves them from fp32."""
    from torch.ao.quantization import quantize_dynamic
    with warnings.catch_warnings():  # deprecated for torchao's quantize_, the same kernels
        warnings.simplefilter("ignore")
        return quantize_dynamic(copy.deepcopy(model).eval(), {nn.LSTM, nn.Linear},
                                dtype=torch.qint8)


def models_for(precision: str, trained: list, device: torch.device, who: str) -> list:
    """The models a whole-sentence predictor (`who`: Classifier, Tagger) runs in
    `precision`: its trained ones (fp32, auto) or their quantised copies (int8)."""
    if precision not in ("fp32", "int8", "auto"):
        raise ValueError(f"precision {precision!r}: a {who} runs in fp32 or int8")
    if precision != "int8":
        return trained
    if device.type != "cpu" or not available():
        raise ValueError("int8 runs on a CPU with fbgemm (x86 builds of torch)")
    return [quantised_copy(m) for m in trained]


@functools.cache
def vnni() -> bool:
    """fbgemm multiplies int8 with AVX512-VNNI here (int32 sums, no 16-bit saturation):
    the CPU has it, and FBGEMM_ENABLE_INSTRUCTIONS (fbgemm's own override of its kernels)
    does not rule it out. fbgemm has no kernel for AVX-VNNI, the 256-bit VNNI of client
    CPUs: there it runs its AVX2 kernels, whose 16-bit partial sums need reduce_range."""
    if os.environ.get("FBGEMM_ENABLE_INSTRUCTIONS", "").upper() in _NO_VNNI:
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_vnni" in flags


_NO_VNNI = {"AVX2", "AVX512", "AVX512_256"}  # fbgemm's names of its kernels without VNNI


@functools.cache
def available() -> bool:
    """This build has fbgemm's dynamic int8 linear (x86 wheels do)."""
    try:
        packed = _prepack(torch.ones(2, 2))
        return bool(torch.ops.quantized.linear_dynamic(torch.ones(1, 2), packed, True).numel())
    except (AttributeError, NotImplementedError, RuntimeError):
        return False
