"""Search's oneDNN products: the function of torch's layers, on packed weights that follow
every change of their parameters."""
from __future__ import annotations

import gc

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seq2seq.models import onednn, packed
from seq2seq.training.optim import build_optimizer

needs_onednn = pytest.mark.skipif(not onednn._available(), reason="no oneDNN inner product")


def close(a, b):
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shape", [(5, 16), (3, 4, 16)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_is_the_layer_in_training_and_close_to_it_in_inference(shape, bias):
    layer, x = nn.Linear(16, 32, bias=bias), torch.randn(shape)
    trained = onednn.linear(x, layer)
    assert torch.equal(trained, layer(x)) and trained.requires_grad
    with torch.inference_mode():
        close(onednn.linear(x, layer), layer(x))


def test_without_onednn_inner_product_linear_is_the_layer(monkeypatch):
    monkeypatch.setattr(onednn, "_available", lambda: False)
    layer, x = nn.Linear(16, 32), torch.randn(5, 16)
    with torch.inference_mode():
        assert not onednn.used_for(x)
        assert torch.equal(onednn.linear(x, layer), layer(x))


def test_used_only_in_fp32_cpu_inference():
    x = torch.randn(2, 3)
    assert not onednn.used_for(x)  # autograd on
    with torch.no_grad():
        assert onednn.used_for(x) == onednn._available()
        assert not onednn.used_for(x.bfloat16())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not onednn.used_for(x)


@needs_onednn
@pytest.mark.parametrize("layer", [0, 1])
def test_lstm_gates_are_both_products_and_biases(layer):
    rnn, x, h = nn.LSTM(8, 16, num_layers=2), torch.randn(5, 8), torch.randn(5, 16)
    x = x if layer == 0 else torch.randn(5, 16)
    w = {name: getattr(rnn, f"{name}_l{layer}")
         for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    with torch.inference_mode():
        close(onednn.lstm_gates(x, h, rnn, layer),
              F.linear(x, w["weight_ih"], w["bias_ih"]) + F.linear(h, w["weight_hh"], w["bias_hh"]))


@needs_onednn
def test_packed_weights_follow_optimizer_steps_loads_and_new_parameters():
    layer, x = nn.Linear(16, 32), torch.randn(5, 16)

    def check():
        with torch.inference_mode():
            close(onednn.linear(x, layer), layer(x))

    check()
    opt = build_optimizer("sgd", list(layer.parameters()), 0.5)
    layer(x).square().sum().backward()
    opt.step()  # in place: a new version of the weight
    check()
    layer.load_state_dict(nn.Linear(16, 32).state_dict())
    check()
    layer.weight = nn.Parameter(torch.randn(32, 16))
    check()
    with torch.no_grad():
        layer.weight.mul_(2)
    check()


@needs_onednn
def test_parameters_made_in_inference_mode_are_packed_at_each_use():
    with torch.inference_mode():
        layer, x = nn.Linear(16, 32), torch.randn(5, 16)
        close(onednn.linear(x, layer), layer(x))
        layer.weight.mul_(2)  # no version counter records this
        close(onednn.linear(x, layer), layer(x))


@needs_onednn
def test_packed_weights_do_not_keep_their_module_alive():
    layer = nn.Linear(16, 32)
    with torch.inference_mode():
        onednn.linear(torch.randn(5, 16), layer)
    assert layer in packed._PACKED
    gc.collect()  # modules earlier tests left in reference cycles go first, not below
    count = len(packed._PACKED)
    del layer
    gc.collect()
    assert len(packed._PACKED) == count - 1
