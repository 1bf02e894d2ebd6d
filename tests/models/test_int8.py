"""int8 search (seq2seq/models/int8.py): products within a percent of fp32's, each row its
own (a sentence's search does not depend on its batch, as in fp32), only inside
`products()` (fp32 and bf16 unchanged), through the commands and seq2seq.load; a device or
predictor that has no int8 search says so in one line."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import seq2seq
from seq2seq.config.compose import ConfigError
from seq2seq.models import int8, onednn
from seq2seq.models.recurrent import _lstm_cell
from seq2seq.tasks.translation.cli import main as translate_main
from seq2seq.training.hardware import pick_precision

from conftest import corpus_lines, run_main

pytestmark = pytest.mark.skipif(not int8.available(), reason="no fbgemm in this torch build")


@torch.inference_mode()
def test_products_are_close_to_fp32_and_each_row_its_own():
    torch.manual_seed(0)
    # widths a multiple of 16 (as the models' are): torch's elementwise kernels run a
    # row's tail through scalar code where it does not fill an AVX-512 vector
    layer, rnn = torch.nn.Linear(48, 32), torch.nn.LSTM(48, 32, 2)
    x, h, c = torch.randn(9, 48) * 3, torch.randn(9, 32), torch.randn(9, 32)
    with int8.products():
        y, squashed = int8.linear(x, layer), int8.tanh_linear(x, layer)
        cell = int8.lstm_cell(x, h, c, rnn, 0)
        alone = [(int8.linear(x[i:i + 1], layer), int8.tanh_linear(x[i:i + 1], layer),
                  *int8.lstm_cell(x[i:i + 1], h[i:i + 1], c[i:i + 1], rnn, 0))
                 for i in range(9)]
        zero = int8.linear(torch.zeros(2, 48), layer)
    assert (y - layer(x)).abs().max() < 0.02 * layer(x).abs().max()
    # tanh(z) as 2 sigmoid(2z) - 1 on the same int8 product (2W quantises as W does)
    assert (squashed - torch.tanh(y)).abs().max() < 1e-5
    # the cell: torch's LSTM update on the int8 product of [x, h] and [W_ih, W_hh] (the
    # doubled cell gate quantises as it would undoubled), and near fp32's cell
    fused = torch.nn.Linear(80, 128)
    fused.weight.copy_(torch.cat([rnn.weight_ih_l0, rnn.weight_hh_l0], dim=1))
    fused.bias.copy_(rnn.bias_ih_l0 + rnn.bias_hh_l0)
    with int8.products():
        same = _lstm_cell(int8.linear(torch.cat([x, h], dim=1), fused), c)
    fp32 = torch.lstm_cell(x, (h, c), rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0,
                           rnn.bias_hh_l0)
    for got, exact, near in zip(cell, same, fp32):
        assert (got - exact).abs().max() < 1e-5
        assert (got - near).abs().max() < 0.05 * near.abs().max()
    for i, (whole, rows) in enumerate(zip((y, squashed, *cell), zip(*alone))):
        assert torch.equal(torch.cat(rows), whole), i  # each row its own
    assert torch.equal(zero, layer.bias.expand(2, -1))  # a zero row stays exact


@torch.inference_mode()
def test_only_inside_products_and_never_with_gradients():
    layer = torch.nn.Linear(8, 4)
    x = torch.randn(3, 8)
    before = onednn.linear(x, layer)
    with int8.products():
        assert int8.active(x) and not int8.active(x.bfloat16())
        assert not torch.equal(onednn.linear(x, layer), before)
    assert not int8.active(x) and torch.equal(onednn.linear(x, layer), before)
    with torch.enable_grad(), int8.products():
        assert not int8.active(torch.randn(2, 8))


def test_search_in_int8_batches_as_it_searches_alone(task_runs):
    t = seq2seq.load(task_runs["translation"], device="cpu", precision="int8")
    lines = corpus_lines("dev", "es", 6)
    together = t.translate_nbest(lines, beam=3, nbest=2)
    assert together == [t.translate_nbest([line], beam=3, nbest=2)[0] for line in lines]
    greedy = t.translate_nbest(lines, beam=1)
    assert [g[0][0] for g in greedy] == t.translate(lines, beam=1)


def test_the_commands_and_load_take_int8(task_runs):
    run = task_runs["translation"]
    lines = "\n".join(corpus_lines("dev", "es", 4)).encode() + b"\n"
    status, out, err = run_main(translate_main, [run, "--precision", "int8", "--beam-size",
                                                 "2"], lines)
    assert status == 0, err
    want = seq2seq.load(run, device="cpu", precision="int8").translate(
        corpus_lines("dev", "es", 4), beam=2)
    assert out.splitlines() == want
    with pytest.raises(ValueError, match="a Sampler runs in fp32 only"):
        seq2seq.load(task_runs["language_model"], device="cpu", precision="int8")
    with pytest.raises(ValueError, match="precision 'int4'"):
        seq2seq.load(run, device="cpu", precision="int4")
    with pytest.raises(ConfigError, match="int8 decoding runs on a CPU"):
        pick_precision("int8", torch.device("cuda"), "decode.precision")


@pytest.mark.parametrize("task", ["classification", "tagging"])
def test_classifiers_and_taggers_in_int8(task_runs, task):
    """Their whole-sentence LSTMs and heads on int8 kernels: probabilities within a few
    hundredths of fp32's, through seq2seq.load and the command; fp32 again restores them."""
    from seq2seq.tasks.classification.cli import main as classify_main
    from seq2seq.tasks.tagging.cli import main as tag_main
    run = task_runs[task]
    texts = ["A gorgeous , witty film .", "Dull and long .", "I saw her duck ."]
    p = seq2seq.load(run, device="cpu")

    def probs():
        if task == "classification":
            return p.probabilities(texts)
        return torch.cat(p.probabilities([t.split() for t in texts]))
    fp32 = probs()
    p.use_precision("int8")
    quantised = probs()
    assert not torch.equal(quantised, fp32)
    assert (quantised - fp32).abs().max() < 0.05
    p.use_precision("fp32")
    assert torch.equal(probs(), fp32)
    main = classify_main if task == "classification" else tag_main
    status, out, err = run_main(main, [run, "--precision", "int8"],
                                "\n".join(texts).encode() + b"\n")
    assert status == 0, err
    assert len(out.splitlines()) == 3
    int8_loaded = seq2seq.load(run, device="cpu", precision="int8")
    assert int8_loaded.predict(texts) == out.splitlines()
    with pytest.raises(ValueError, match="runs in fp32 or int8"):
        int8_loaded.use_precision("bf16")


def test_fbgemm_without_vnni_keeps_products_close(tmp_path):
    """fbgemm's AVX2 kernels (CPUs without AVX512-VNNI, or forced by its own
    FBGEMM_ENABLE_INSTRUCTIONS) sum int8 products in 16 bits: int8 search then quantises
    activations to 7 bits (reduce_range), else full-scale rows saturate."""
    script = tmp_path / "avx2.py"
    script.write_text(
        "import torch\n"
        "from seq2seq.models import int8\n"
        "assert not int8.vnni()\n"
        "torch.manual_seed(0)\n"
        "layer = torch.nn.Linear(256, 64)\n"
        "layer.weight.data = torch.sign(torch.randn(64, 256)) * 0.1\n"  # every weight +-127
        "x = torch.ones(4, 256) * torch.sign(layer.weight[:4])\n"  # every product 127 * 127
        "with torch.inference_mode(), int8.products():\n"
        "    y = int8.linear(x, layer)\n"
        "exact = layer(x).detach()\n"
        "print(float((y - exact).abs().max() / exact.abs().max()))\n")
    env = {**os.environ, "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2"}
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert float(out) < 0.02
