"""The model's options, every combination: cell x attention x bidirectional (x input feeding).

Each must keep the invariants of the paper's model (teacher forcing equals step-by-step
decoding; padding changes nothing) and learn a synthetic task.
"""
from __future__ import annotations

import itertools
import random

import pytest
import torch

from conftest import assert_forced_equals_stepwise
from seq2seq.data import collate
from seq2seq.model import Seq2Seq, token_loss
from seq2seq.search import beam_search, greedy
from seq2seq.tokenizer import EOS, PAD

SRC = [[4, 5, 6, 7, 8, 9, EOS], [10, EOS], [6, 6, 4, EOS], [7, 8, 9, 10, 4, EOS], [EOS]]
TGT = [[4, 5, 6], [7, 8, 4, 5, 6, 7], [8], [5, 5, 5, 5], [6, 4]]

VARIANTS = [dict(cell=c, attention=a, bidirectional=b, input_feeding=f)
            for c, a, b, f in itertools.product(("lstm", "gru"), ("none", "dot", "general"),
                                                (False, True), (False, True))
            if not (f and a == "none")]


def name(v: dict) -> str:
    return "-".join([v["cell"], v["attention"], "bi" if v["bidirectional"] else "uni"]
                    + (["feed"] if v["input_feeding"] else []))


def build(v: dict, *, vocab: int = 12, emb: int = 8, hidden: int = 16, layers: int = 2,
          init_range: float = 0.3, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(src_vocab=vocab, tgt_vocab=vocab, emb_dim=emb, hidden_dim=hidden,
                   layers=layers, init_range=init_range, **v).eval()


@pytest.mark.parametrize("v", VARIANTS, ids=name)
def test_teacher_forcing_equals_step_by_step(v):
    model = build(v)
    b = collate(SRC, TGT)
    assert_forced_equals_stepwise(model, b)


@pytest.mark.parametrize("v", VARIANTS, ids=name)
def test_padding_changes_nothing(v):
    """A sentence's loss and translation are the same alone and in a padded batch."""
    model = build(v)
    b = collate(SRC, TGT)
    with torch.no_grad():
        max_len = torch.full((len(SRC),), 6)
        batch_out = beam_search(model, b.src_ids, b.src_lens, max_len, beam_size=3)
        for i, (s, t) in enumerate(zip(SRC, TGT)):
            one = collate([s], [t])
            only_i = torch.full_like(b.tgt_out, PAD)
            only_i[i] = b.tgt_out[i]
            in_batch = token_loss(model, b.src_ids, b.src_lens, b.tgt_in, only_i)
            alone = token_loss(model, one.src_ids, one.src_lens, one.tgt_in, one.tgt_out)
            assert float(in_batch) == pytest.approx(float(alone), rel=1e-5)
            out = beam_search(model, one.src_ids, one.src_lens, max_len[:1], beam_size=3)
            assert out[0][0].ids == batch_out[i][0].ids
            assert out[0][0].score == pytest.approx(batch_out[i][0].score, abs=1e-4)


@pytest.mark.parametrize("v", [v for v in VARIANTS if v["attention"] != "none"], ids=name)
def test_padded_positions_get_exactly_zero_attention(v):
    model = build(v)
    b = collate(SRC, TGT)
    with torch.no_grad():
        state = model.encode(b.src_ids, b.src_lens)
        query = torch.randn(len(SRC), 4, 16) * 5
        _, weights = model.attention(query, state.memory, state.mask)  # (B, T, S)
    pad = ~state.mask
    assert pad.any() and bool((weights.permute(1, 0, 2)[:, pad] == 0).all())
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(SRC), 4))
    assert torch.equal(state.mask, b.src_ids != PAD)


def test_gru_state_has_no_cell_and_search_handles_it():
    v = dict(cell="gru", attention="general", bidirectional=True, input_feeding=True)
    model = build(v)
    b = collate(SRC, TGT)
    with torch.no_grad():
        state = model.encode(b.src_ids, b.src_lens)
        assert state.c is None and state.h.shape == (2, len(SRC), 16)
        assert state.feed.shape == (len(SRC), 16) and state.memory.shape == (len(SRC), 7, 16)
        max_len = torch.full((len(SRC),), 6)
        one = beam_search(model, b.src_ids, b.src_lens, max_len, beam_size=1)
    assert [h[0].ids for h in one] == greedy(model, b.src_ids, b.src_lens, max_len)


def test_input_feeding_needs_attention():
    with pytest.raises(ValueError, match="input feeding needs attention"):
        build(dict(cell="lstm", attention="none", bidirectional=False, input_feeding=True))


# ------------------------------------------------------------------ each learns
def learn_reverse(v: dict, steps: int = 1500) -> float:
    """Exact-match accuracy on new data of the reverse task (as tests/test_train.py)."""
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
        model.eval()
        out = greedy(model, test_batch.src_ids, test_batch.src_lens, torch.full((200,), 10))
        model.train()
        return sum(o == t for o, t in zip(out, test_targets)) / len(test_targets)

    model.train()
    acc = 0.0
    for step in range(1, steps + 1):
        b, _ = sample(64)
        loss = token_loss(model, b.src_ids, b.src_lens, b.tgt_in, b.tgt_out) / b.n_tokens
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if step % 100 == 0 and (acc := accuracy()) >= 0.97:
            break
    return acc


FAST = dict(cell="gru", attention="general", bidirectional=True, input_feeding=False)


def test_an_option_combination_learns_the_reverse_task():
    assert learn_reverse(FAST) >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("v", [v for v in VARIANTS if v != FAST], ids=name)
def test_every_combination_learns_the_reverse_task(v):
    assert learn_reverse(v) >= 0.95
