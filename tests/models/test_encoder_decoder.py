"""The encoder-decoder: initialisation, teacher forcing vs step-by-step decoding, padding."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from conftest import assert_forced_equals_stepwise, model_config
from seq2seq.config.compose import ModelConfig
from seq2seq.data.corpus import collate
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import EOS, PAD
from seq2seq.models.encoder_decoder import build_model
from seq2seq.models.recurrent import State
from seq2seq.tasks import token_loss

SRC = [[4, 5, 6, 7, 8, 9, EOS], [10, EOS], [6, 6, 4, EOS], [7, 8, 9, 10, 4, EOS], [EOS]]
TGT = [[4, 5, 6], [7, 8, 4, 5, 6, 7], [8], [5, 5, 5, 5], [6, 4]]


@pytest.mark.parametrize("init_range", [0.08, 0.01])
def test_every_parameter_is_uniform_in_the_init_range(make_model, init_range):
    model = make_model(src_vocab=50, tgt_vocab=50, emb_dim=32, hidden_dim=32,
                       init_range=init_range)
    for name, p in model.named_parameters():
        p = p.detach()
        assert p.abs().max() <= init_range, name
        if p.numel() >= 256:  # and fills the range, not just a corner of it
            assert p.max() > 0.9 * init_range and p.min() < -0.9 * init_range, name
            assert abs(float(p.mean())) < 0.1 * init_range, name
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    # uniform(-r, r) has standard deviation r / sqrt(3)
    assert float(flat.std()) == pytest.approx(init_range / 3 ** 0.5, rel=0.05)


def test_build_model_takes_its_sizes_from_the_config():
    cfg = ModelConfig(emb_dim=6, hidden_dim=10, layers=3)
    model = build_model(cfg, 13, 17)
    assert model.encoder.embed.weight.shape == (13, 6)
    assert model.decoder.embed.weight.shape == (17, 6)
    assert (model.encoder.rnn.num_layers, model.encoder.rnn.hidden_size) == (3, 10)
    assert (model.decoder.rnn.num_layers, model.decoder.rnn.hidden_size) == (3, 10)
    assert model.decoder.out.weight.shape == (17, 10)


def test_teacher_forcing_equals_step_by_step_decoding(make_model):
    model = make_model(init_range=0.3)
    b = collate(SRC, TGT)
    assert_forced_equals_stepwise(model, b)


def test_token_loss_is_the_summed_step_by_step_negative_log_likelihood(make_model):
    model = make_model(init_range=0.3)
    b = collate(SRC, TGT)
    with torch.no_grad():
        loss = token_loss(model, b)
        state, nll = model.encode(b.src), 0.0
        for t in range(b.tgt_in.size(1)):
            log_probs, state = model.decode_step(b.tgt_in[:, t], state)
            for i, y in enumerate(b.tgt_out[:, t].tolist()):
                if y != PAD:
                    nll -= float(log_probs[i, y])
    assert float(loss) == pytest.approx(nll, rel=1e-5)


def test_a_sentence_is_scored_the_same_alone_and_in_a_padded_batch(make_model):
    """Varying source lengths take the packed path; padding must not leak into either side."""
    model = make_model(init_range=0.3)
    b = collate(SRC, TGT)
    assert not bool((b.src.lens == b.src.values.size(1)).all())  # the per-length path
    with torch.no_grad():
        batch_state = model.encode(b.src)
        for i, (s, t) in enumerate(zip(SRC, TGT)):
            one = collate([s], [t])
            alone = model.encode(one.src)
            torch.testing.assert_close(batch_state.h[:, i], alone.h[:, 0], atol=1e-6, rtol=0)
            torch.testing.assert_close(batch_state.c[:, i], alone.c[:, 0], atol=1e-6, rtol=0)
            # Sentence i's loss inside the batch: every other row's targets set to PAD.
            only_i = torch.full_like(b.tgt_out, PAD)
            only_i[i] = b.tgt_out[i]
            in_batch = token_loss(model, dataclasses.replace(b, tgt_out=only_i))
            by_itself = token_loss(model, one)
            assert float(in_batch) == pytest.approx(float(by_itself), rel=1e-5)


def test_one_call_and_per_length_encoding_agree(make_model):
    """A batch of one source length is encoded in one call; padded, per length: the same."""
    model = make_model(init_range=0.3)
    src = [[4, 5, 6, EOS], [7, 8, 9, EOS]]
    b = collate(src, [[4], [5]])
    with torch.no_grad():
        plain = model.encode(b.src)
        padded = torch.cat([b.src.values, torch.full((2, 3), PAD)], dim=1)  # per-length calls
        split = model.encode(Source(padded, b.src.lens))
    torch.testing.assert_close(plain.h, split.h, atol=1e-6, rtol=0)
    torch.testing.assert_close(plain.c, split.c, atol=1e-6, rtol=0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("encoder", ["rnn", "birnn"])
def test_mixed_lengths_encode_as_each_sentence_alone(make_model, cell, encoder):
    """An encoder on a padded batch of several lengths (one way: time cut where each
    sentence ends; both ways: a call per length): every sentence's final states and memory
    are those it gets alone; padded positions are masked."""
    model = build_model(model_config(init_range=0.3, cell=cell, encoder=encoder), 11, 9).eval()
    b = collate(SRC + SRC[:2], [[4]] * (len(SRC) + 2))  # two lengths twice, three once
    with torch.no_grad():
        batch = model.encoder(b.src, memory=True)
        for i, src in enumerate(SRC + SRC[:2]):
            one = collate([src], [[4]])
            alone = model.encoder(one.src, memory=True)
            n = len(src)
            torch.testing.assert_close(batch.h[:, i], alone.h[:, 0], atol=1e-6, rtol=0)
            if cell == "lstm":
                torch.testing.assert_close(batch.c[:, i], alone.c[:, 0], atol=1e-6, rtol=0)
            torch.testing.assert_close(batch.memory[i, :n], alone.memory[0], atol=1e-6, rtol=0)
            # padded positions are masked out of attention (their memory is never read)
            assert batch.mask[i, :n].all() and not batch.mask[i, n:].any()


@pytest.mark.parametrize("attention", [False, True], ids=["paper", "attention"])
def test_mixed_lengths_encode_under_bf16_autocast(make_model, bf16_kernels, attention):
    """Under bf16 autocast oneDNN's LSTM returns bf16 and torch's own (oneDNN off) fp32:
    per-length encoding keeps whichever it gets, as one call over one length does, and
    every sentence gets the state it gets alone."""
    model = make_model(init_range=0.3, attention=attention)
    b = collate(SRC, [[4]] * len(SRC))
    with bf16_kernels(), torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        batch = model.encoder(b.src, memory=True)
        model.encode(b.src)  # and the attention's keys over that memory
        for i, src in enumerate(SRC):
            one = collate([src], [[4]])
            alone = model.encoder(one.src, memory=True)  # one length: one RNN call
            assert (batch.h.dtype, batch.c.dtype) == (alone.h.dtype, alone.c.dtype)
            assert batch.memory.dtype == alone.memory.dtype
            torch.testing.assert_close(batch.h[:, i], alone.h[:, 0], atol=1e-2, rtol=0)
            torch.testing.assert_close(batch.c[:, i], alone.c[:, 0], atol=1e-2, rtol=0)
            n = len(src)
            torch.testing.assert_close(batch.memory[i, :n], alone.memory[0], atol=1e-2, rtol=0)


def test_per_length_encoding_keeps_a_lower_precision_the_rnn_returns(make_model, monkeypatch):
    """On any CPU: an encoder RNN that returns bf16 for fp32 input, as oneDNN's and cuDNN's
    do under autocast (and takes bf16 states back, as autocast casts them); states and
    memory come back in bf16, each sentence's its own up to the rounding of the states
    carried to bf16 where a shorter sentence ends."""
    model = make_model(init_range=0.3)
    rnn = model.encoder.rnn

    def bf16_out(x: torch.Tensor, hx=None):
        out, (h, c) = nn.LSTM.forward(rnn, x, None if hx is None else tuple(t.float() for t in hx))
        return out.bfloat16(), (h.bfloat16(), c.bfloat16())
    monkeypatch.setattr(rnn, "forward", bf16_out)
    b = collate(SRC, [[4]] * len(SRC))
    with torch.no_grad():
        batch = model.encoder(b.src, memory=True)
        assert batch.h.dtype == batch.c.dtype == batch.memory.dtype == torch.bfloat16
        for i, src in enumerate(SRC):
            one = collate([src], [[4]])
            alone = model.encoder(one.src, memory=True)
            torch.testing.assert_close(batch.h[:, i], alone.h[:, 0], atol=1e-2, rtol=0)
            n = len(src)
            torch.testing.assert_close(batch.memory[i, :n], alone.memory[0, :n], atol=1e-2,
                                       rtol=0)


def test_encoder_state_shapes(make_model):
    model = make_model(layers=3, hidden_dim=12)
    b = collate(SRC, TGT)
    state = model.encode(b.src)
    assert state.h.shape == state.c.shape == (3, len(SRC), 12)
    assert model(b.src, b.tgt_in).shape == (*b.tgt_in.shape, 12)


def test_state_select_reorders_rows():
    h = torch.arange(2 * 4 * 3, dtype=torch.float).view(2, 4, 3)
    state = State(h, -h)
    index = torch.tensor([3, 0, 0, 2])
    picked = state.select(index)  # memory (none here) kept as is
    for row, src_row in enumerate(index.tolist()):
        assert torch.equal(picked.h[:, row], h[:, src_row])
        assert torch.equal(picked.c[:, row], -h[:, src_row])


def test_state_select_keeps_or_picks_the_per_sentence_memory():
    h = torch.randn(1, 6, 3)  # 3 sentences x 2 hypotheses
    memory, mask = torch.randn(3, 4, 3), torch.rand(3, 4) > 0.5
    state = State(h, memory=memory, mask=mask, keys=-memory)
    rows = torch.tensor([5, 4, 1, 1])  # sentence 2's hypotheses, then sentence 0's
    kept = state.select(rows)
    assert torch.equal(kept.h, h[:, rows]) and kept.memory is memory and kept.mask is mask
    picked = state.select(rows, torch.tensor([2, 0]))
    assert torch.equal(picked.memory, memory[[2, 0]]) and torch.equal(picked.mask, mask[[2, 0]])
    assert torch.equal(picked.keys, -memory[[2, 0]])


def test_dropout_only_in_training_mode(make_model):
    model = make_model(dropout=0.5, init_range=0.3)
    b = collate(SRC, TGT)
    with torch.no_grad():
        model.eval()
        a = model(b.src, b.tgt_in)
        assert torch.equal(a, model(b.src, b.tgt_in))
        model.train()
        assert not torch.equal(a, model(b.src, b.tgt_in))
