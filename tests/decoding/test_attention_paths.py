"""Attention out of search: each hypothesis keeps the weights of its own path, equal to the
weights teacher forcing its tokens gives; nothing kept unless asked; a model without
attention says so in one line."""
from __future__ import annotations

import pytest
import torch

from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import BOS, EOS
from seq2seq.decoding.ensemble import Ensemble
from seq2seq.decoding.search import beam_search, greedy
from seq2seq.models.encoder_decoder import build_model

from conftest import model_config

SOURCES = [[5, 9, 4, 7, 2], [6, 2], [8, 8, 5, 4, 11, 10, 2], [4, 2]]  # ids ending in eos


def _model(seed: int, **options):
    torch.manual_seed(seed)
    # init 0.5: weights far from uniform, so a wrong row or position shows
    model = build_model(model_config(emb_dim=8, hidden_dim=16, layers=2, init_range=0.5,
                                     **options), 12, 12).eval()
    with torch.no_grad():  # eos less likely: hypotheses of several lengths, not all empty
        model.decoder.out.bias[EOS] -= 2.0
    return model


def teacher_forced(model, src: list[int], ids: list[int]) -> torch.Tensor:
    """The attention teacher forcing gives the tokens `ids` and eos: (len(ids) + 1,
    len(src))."""
    source = Source.of_ids([src])
    tgt_in = torch.tensor([[BOS] + ids])
    with torch.no_grad():
        return model.attention_weights(source, tgt_in)[0]  # (T, S)


@pytest.mark.parametrize("options", [dict(attention="dot"), dict(attention="general"),
                                     dict(attention="general", input_feeding=True),
                                     dict(attention="dot", encoder="birnn", cell="gru")],
                         ids=["dot", "general", "input-feeding", "birnn-gru"])
@pytest.mark.parametrize("beam", [1, 4])
def test_search_weights_equal_teacher_forced_weights(options, beam):
    model = _model(0, **options)
    src, max_len = Source.of_ids(SOURCES), torch.full((len(SOURCES),), 7)
    if beam == 1:
        found = [[h] for h in greedy(model, src, max_len, attention=True)]
    else:
        found = beam_search(model, src, max_len, beam_size=beam, nbest=3, attention=True)
    checked = 0
    for source, hyps in zip(SOURCES, found):
        for h in hyps:
            assert h.attention.shape == (len(h.ids) + 1, len(source))  # its own source only
            torch.testing.assert_close(h.attention, teacher_forced(model, source, h.ids),
                                       rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(h.attention.sum(1), torch.ones(len(h.ids) + 1))
            checked += bool(h.ids)
    assert checked >= len(SOURCES) * (1 if beam == 1 else 2)


def test_asking_changes_no_hypothesis_and_not_asking_keeps_nothing():
    model = _model(1, attention="general")
    src, max_len = Source.of_ids(SOURCES), torch.full((len(SOURCES),), 7)
    plain = beam_search(model, src, max_len, beam_size=3, nbest=2)
    asked = beam_search(model, src, max_len, beam_size=3, nbest=2, attention=True)
    assert [[(h.ids, h.score) for h in hs] for hs in plain] == \
        [[(h.ids, h.score) for h in hs] for hs in asked]
    assert all(h.attention is None for hs in plain for h in hs)
    assert all(h.attention is None for h in greedy(model, src, max_len))


def test_an_ensemble_gives_its_members_mean_weights():
    a, b = _model(2, attention="dot"), _model(3, attention="general")
    src, max_len = Source.of_ids(SOURCES[:2]), torch.full((2,), 6)
    for h, source in zip(greedy(Ensemble([a, b]), src, max_len, attention=True), SOURCES):
        mean = (teacher_forced(a, source, h.ids) + teacher_forced(b, source, h.ids)) / 2
        torch.testing.assert_close(h.attention, mean, rtol=1e-4, atol=1e-5)


def test_a_model_without_attention_says_so():
    model = _model(4)
    src, max_len = Source.of_ids(SOURCES), torch.full((len(SOURCES),), 5)
    for search in (lambda: greedy(model, src, max_len, attention=True),
                   lambda: beam_search(model, src, max_len, beam_size=2, attention=True)):
        with pytest.raises(ValueError, match="no attention"):
            search()
