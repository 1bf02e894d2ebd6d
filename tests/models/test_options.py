"""The model's options, every combination: cell x encoder (one direction, both, none: a
language model) x attention (x input feeding).

Each must keep the invariants of the paper's model (teacher forcing equals step-by-step
decoding; padding changes nothing) and, given a source, learn a synthetic task.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import random

import pytest
import torch

from conftest import assert_forced_equals_stepwise, greedy_accuracy, model_config
from seq2seq.config.compose import ConfigError, load_config
from seq2seq.data.corpus import collate
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import EOS, PAD
from seq2seq.decoding.search import beam_search, greedy
from seq2seq.models.encoder_decoder import Seq2Seq, build_model
from seq2seq.tasks import token_loss

SRC = [[4, 5, 6, 7, 8, 9, EOS], [10, EOS], [6, 6, 4, EOS], [7, 8, 9, 10, 4, EOS], [EOS]]
TGT = [[4, 5, 6], [7, 8, 4, 5, 6, 7], [8], [5, 5, 5, 5], [6, 4]]

# Translation models: every cell, encoder direction and attention (input feeding needs it).
VARIANTS = [dict(cell=c, attention=a, encoder=e, input_feeding=f)
            for c, a, e, f in itertools.product(("lstm", "gru"), ("none", "dot", "general"),
                                                ("rnn", "birnn"), (False, True))
            if not (f and a == "none")]
# Language models (model/encoder=none): the decoder alone, with no source to attend to.
LANGUAGE_MODELS = [dict(cell=c, attention="none", encoder="none", input_feeding=False)
                   for c in ("lstm", "gru")]
# A bidirectional encoder narrower than the decoder: its bridge maps 2 x 8 to 16.
NARROW = dict(cell="lstm", attention="general", encoder="birnn", input_feeding=False,
              encoder_hidden_dim=8)
INVARIANTS = VARIANTS + LANGUAGE_MODELS + [NARROW]


def name(v: dict) -> str:
    encoder = {"rnn": "uni", "birnn": "bi", "none": "lm"}[v["encoder"]]
    return "-".join([v["cell"], v["attention"], encoder]
                    + (["feed"] if v["input_feeding"] else [])
                    + ([f"enc{v['encoder_hidden_dim']}"] if v.get("encoder_hidden_dim") else []))


def build(v: dict, *, vocab: int = 12, emb: int = 8, hidden: int = 16, layers: int = 2,
          init_range: float = 0.3, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    return build_model(model_config(emb_dim=emb, hidden_dim=hidden, layers=layers,
                                    init_range=init_range, **v), vocab, vocab).eval()


def batch(v: dict, src: list[list[int]], tgt: list[list[int]]):
    """The pairs as a Batch; a language model's source is none at all (Source.empty)."""
    b = collate(src, tgt)
    return dataclasses.replace(b, src=Source.empty(b.size)) if v["encoder"] == "none" else b


@pytest.mark.parametrize("v", INVARIANTS, ids=name)
def test_teacher_forcing_equals_step_by_step(v):
    model = build(v)
    assert_forced_equals_stepwise(model, batch(v, SRC, TGT))


@pytest.mark.parametrize("v", INVARIANTS, ids=name)
def test_padding_changes_nothing(v):
    """A sentence's loss and translation are the same alone and in a padded batch (padded
    on both sides; a language model's on the target side only)."""
    model = build(v)
    b = batch(v, SRC, TGT)
    with torch.no_grad():
        max_len = torch.full((len(SRC),), 6)
        batch_out = beam_search(model, b.src, max_len, beam_size=3)
        for i, (s, t) in enumerate(zip(SRC, TGT)):
            one = batch(v, [s], [t])
            only_i = torch.full_like(b.tgt_out, PAD)
            only_i[i] = b.tgt_out[i]
            in_batch = token_loss(model, dataclasses.replace(b, tgt_out=only_i))
            alone = token_loss(model, one)
            assert float(in_batch) == pytest.approx(float(alone), rel=1e-5)
            out = beam_search(model, one.src, max_len[:1], beam_size=3)
            assert out[0][0].ids == batch_out[i][0].ids
            assert out[0][0].score == pytest.approx(batch_out[i][0].score, abs=1e-4)


def attention_weights(model: Seq2Seq, query: torch.Tensor, state) -> torch.Tensor:
    """The attention weights (B, T, S) the model's attention gives `query` (B, T, H) over
    `state`'s memory, read through its own forward: with one-hot values e_s at position s
    and a combination that passes the context alone, its output at unit s is
    tanh(weight of s) (the keys, and so the weights, are the model's)."""
    attention = copy.deepcopy(model.decoder.attention)
    B, S = state.mask.shape
    H = query.size(-1)
    with torch.no_grad():
        attention.combine.weight.copy_(torch.cat([torch.eye(H), torch.zeros(H, H)], dim=1))
        values = torch.eye(S, H).expand(B, S, H)
        out, weights = attention(query, values, state.mask, state.keys)  # (B, T, H)
    assert bool((out[..., S:] == 0).all())
    read = torch.atanh(out[..., :S])
    torch.testing.assert_close(weights, read, rtol=1e-4, atol=1e-5)  # the ones it returns
    return read


@pytest.mark.parametrize("v", [v for v in INVARIANTS if v["attention"] != "none"], ids=name)
def test_padded_positions_get_exactly_zero_attention(v):
    model = build(v)
    b = collate(SRC, TGT)
    with torch.no_grad():
        state = model.encode(b.src)
        query = torch.randn(len(SRC), 4, 16) * 5
        weights = attention_weights(model, query, state)  # (B, T, S)
    pad = ~state.mask
    assert pad.any() and bool((weights.permute(1, 0, 2)[:, pad] == 0).all())
    assert bool((weights.permute(1, 0, 2)[:, ~pad] > 0).all())
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(SRC), 4))
    assert torch.equal(state.mask, b.src.values != PAD)


def test_gru_state_has_no_cell_and_search_handles_it():
    v = dict(cell="gru", attention="general", encoder="birnn", input_feeding=True)
    model = build(v)
    b = collate(SRC, TGT)
    with torch.no_grad():
        state = model.encode(b.src)
        assert state.c is None and state.h.shape == (2, len(SRC), 16)
        assert state.feed.shape == (len(SRC), 16) and state.memory.shape == (len(SRC), 7, 16)
        max_len = torch.full((len(SRC),), 6)
        one = beam_search(model, b.src, max_len, beam_size=1)
        g = greedy(model, b.src, max_len)
    assert [h[0].ids for h in one] == [h.ids for h in g]
    assert [h[0].score for h in one] == [h.score for h in g]


def test_input_feeding_needs_attention():
    with pytest.raises(ConfigError, match=r"^config key 'model\.decoder\.input_feeding': needs "
                                          r"model\.decoder\.attention dot or general$"):
        load_config(["model.decoder.input_feeding=true"])
    # Built without the config's check, the decoder refuses too (an assertion, not a
    # ValueError as the model's constructor raised before the parts were split).
    with pytest.raises((ValueError, AssertionError), match="input feeding needs attention"):
        build(dict(cell="lstm", attention="none", encoder="rnn", input_feeding=True))


# ------------------------------------------------------------------ each learns
def learn_reverse(v: dict, steps: int = 1500) -> float:
    """Exact-match accuracy on new data of the reverse task (as tests/training/test_loop.py); a task
    for translation models only (a language model cannot see what to reverse)."""
    torch.manual_seed(0)
    rng = random.Random(0)

    def sample(n):
        xs = [[rng.randint(4, 11) for _ in range(rng.randint(3, 6))] for _ in range(n)]
        return collate([x[::-1] + [EOS] for x in xs], [x[::-1] for x in xs]), \
            [x[::-1] for x in xs]

    model = build(v, emb=32, hidden=64, layers=1, init_range=0.08)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    test_batch, test_targets = sample(200)

    def accuracy() -> float:
        return greedy_accuracy(model, test_batch, test_targets)

    model.train()
    acc = 0.0
    for step in range(1, steps + 1):
        b, _ = sample(64)
        loss = token_loss(model, b) / b.n_tokens
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if step % 100 == 0 and (acc := accuracy()) >= 0.97:
            break
    return acc


FAST = dict(cell="gru", attention="general", encoder="birnn", input_feeding=False)


def test_an_option_combination_learns_the_reverse_task():
    assert learn_reverse(FAST) >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("v", [v for v in VARIANTS if v != FAST], ids=name)
def test_every_combination_learns_the_reverse_task(v):
    assert learn_reverse(v) >= 0.95
