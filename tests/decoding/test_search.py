"""Greedy and beam search, checked against exhaustive enumeration on tiny vocabularies."""
from __future__ import annotations

import pytest
import torch

from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import BOS, EOS, PAD
from seq2seq.decoding.search import beam_search, greedy, max_lengths

SOURCES = [[4, 5, 6, EOS], [7, EOS], [8, 9, 10, 4, 5, 6, EOS], [6, 6, EOS], [10, 9, 8, 7, EOS],
           [5, EOS], [4, 4, 9, 9, 10, EOS]]


def one(src: list[int]) -> Source:
    return Source.of_ids([src])


def all_hypotheses(model, src: list[int], max_len: int) -> list[tuple[list[int], float]]:
    """Every hypothesis search may produce, with its log-probability, best first.

    Producible tokens are all but PAD and BOS; a hypothesis is up to max_len of them, then
    EOS. Scores are sums of decode_step log-probabilities, accumulated in double.
    """
    V = model.decoder.out.out_features
    tokens = [t for t in range(V) if t not in (PAD, BOS, EOS)]
    found: list[tuple[list[int], float]] = []

    def walk(prefix, last, state, logp):
        log_probs, state = model.decode_step(torch.tensor([last]), state)
        log_probs = log_probs[0].double()
        found.append((prefix, logp + float(log_probs[EOS])))
        if len(prefix) < max_len:
            for tok in tokens:
                walk(prefix + [tok], tok, state, logp + float(log_probs[tok]))

    with torch.no_grad():
        walk([], BOS, model.encode(one(src)), 0.0)
    return sorted(found, key=lambda h: -h[1])


def score_of(model, src: list[int] | Source, ids: list[int]) -> float:
    """Log-probability of `ids` + EOS given `src` (ids, or a one-row Source), recomputed
    step by step in double."""
    with torch.no_grad():
        state = model.encode(src if isinstance(src, Source) else one(src))
        total, last = 0.0, BOS
        for tok in ids + [EOS]:
            log_probs, state = model.decode_step(torch.tensor([last]), state)
            total += float(log_probs[0, tok])
            last = tok
    return total


# Seeds picked so that the best hypotheses have varied lengths (asserted below).
@pytest.mark.parametrize("tgt_vocab,max_len,beam,seed,attention,init_range",
                         [(5, 4, 32, 6, False, 3.0), (6, 4, 128, 6, False, 3.0),
                          (7, 3, 128, 5, False, 3.0), (6, 4, 128, 1, True, 1.5)])
def test_wide_beam_finds_the_exhaustive_best(make_model, tgt_vocab, max_len, beam, seed,
                                             attention, init_range):
    """With a beam wider than the number of candidates, beam search is exact.

    vocab 5: tokens 1 and 4 (+ eos) are producible, so at most 2^3 live hypotheses x 3
    continuations = 24 candidates a step, fewer than the beam; likewise for 6 and 7.
    """
    # A large init range makes a random model's distributions sharp and context-dependent;
    # the attention model's logits grow faster with it, and with them fp32 rounding.
    model = make_model(tgt_vocab=tgt_vocab, init_range=init_range, seed=seed,
                       attention=attention)
    hyps = beam_search(model, Source.of_ids(SOURCES), torch.full((len(SOURCES),), max_len),
                       beam_size=beam, nbest=5)
    best_lengths = set()
    for src, nbest in zip(SOURCES, hyps):
        truth = all_hypotheses(model, src, max_len)
        # No near-ties among the top 5, so their ids and order are well defined.
        assert all(truth[i][1] - truth[i + 1][1] > 1e-4 for i in range(5))
        assert [h.ids for h in nbest] == [ids for ids, _ in truth[:5]]
        for h, (_, score) in zip(nbest, truth):
            assert h.score == pytest.approx(score, abs=1e-4)
        best_lengths.add(len(truth[0][0]))
    # The check covers short and long answers, not only "eos at once" or "always max_len".
    assert len(best_lengths) >= 2


@pytest.mark.parametrize("beam", [1, 2, 3])
def test_narrow_beam_scores_are_real_and_bounded_by_the_best(make_model, beam):
    model = make_model(tgt_vocab=6, init_range=1.0, seed=6)
    hyps = beam_search(model, Source.of_ids(SOURCES), torch.full((len(SOURCES),), 4),
                       beam_size=beam)
    for src, (h,) in zip(SOURCES, hyps):
        assert h.score == pytest.approx(score_of(model, src, h.ids), abs=1e-4)
        assert h.score <= all_hypotheses(model, src, 4)[0][1] + 1e-4


def case(make_model, kind: str, seed: int):
    """(model, source, max_len, one-row source of each sentence) for the paper's model, the
    attention model, or a language model (no source: Source.empty, and max lengths that
    vary, so its identical rows still end differently)."""
    if kind == "lm":
        # Seed 14: the language model says eos after 2 tokens, so rows end both ways, by
        # eos and at their max length (most random language models repeat a token forever).
        model = make_model(tgt_vocab=12, init_range=0.5, seed=14, language_model=True)
        max_len = torch.tensor([1, 2, 3, 4, 6, 8, 12])
        return model, Source.empty(len(max_len)), max_len, [Source.empty(1)] * len(max_len)
    model = make_model(tgt_vocab=12, init_range=0.5, seed=seed, attention=kind == "attention")
    src = Source.of_ids(SOURCES)
    return model, src, max_lengths(src.lens, 1.5, 3), [one(s) for s in SOURCES]


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
@pytest.mark.parametrize("kind", ["paper", "attention", "lm"])
def test_beam_size_one_is_greedy(make_model, kind, length_penalty):
    """The same hypotheses and the same scores (sum of log-probabilities with eos,
    normalised alike), which are the sentences' real log-probabilities."""
    model, src, max_len, rows = case(make_model, kind, seed=3)
    g = greedy(model, src, max_len, length_penalty=length_penalty)
    b = beam_search(model, src, max_len, beam_size=1, length_penalty=length_penalty)
    assert [h[0].ids for h in b] == [h.ids for h in g]
    assert [h[0].score for h in b] == [h.score for h in g]
    assert len({len(h.ids) for h in g}) >= 2  # guard: varied outputs, not all empty or all max
    assert any(len(h.ids) < n for h, n in zip(g, max_len.tolist()))  # some end with eos
    for row, h in zip(rows, g):
        expected = score_of(model, row, h.ids) / (len(h.ids) + 1) ** length_penalty
        assert h.score == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("kind", ["paper", "attention", "lm"])
@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_a_sentence_decodes_the_same_alone_and_in_a_batch(make_model, search, kind):
    model, src, max_len, rows = case(make_model, kind, seed=4)

    def run(source, ml):
        if search == "greedy":
            return [(h.ids, h.score) for h in greedy(model, source, ml)]
        return [(h[0].ids, h[0].score) for h in beam_search(model, source, ml, beam_size=3)]

    together = run(src, max_len)
    for i, row in enumerate(rows):
        [(ids, score)] = run(row, max_len[i:i + 1])
        assert ids == together[i][0]
        assert score == pytest.approx(together[i][1], abs=1e-5)


def test_nbest_is_sorted_distinct_and_starts_with_the_best(make_model):
    model = make_model(tgt_vocab=12, init_range=0.5, seed=5)
    src = Source.of_ids(SOURCES)
    max_len = max_lengths(src.lens, 1.5, 3)
    one_best = beam_search(model, src, max_len, beam_size=6)
    many = beam_search(model, src, max_len, beam_size=6, nbest=4)
    for s, (best,), hyps in zip(SOURCES, one_best, many):
        assert len(hyps) == 4
        assert len({tuple(h.ids) for h in hyps}) == 4
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        assert hyps[0].ids == best.ids
        for h in hyps:
            assert h.score == pytest.approx(score_of(model, s, h.ids), abs=1e-4)


def test_length_penalty_divides_by_the_length_with_eos(make_model):
    model = make_model(tgt_vocab=12, init_range=0.5, seed=5)
    src = Source.of_ids(SOURCES)
    max_len = max_lengths(src.lens, 1.5, 3)
    hyps = beam_search(model, src, max_len, beam_size=4, nbest=3, length_penalty=1.0)
    for s, nbest in zip(SOURCES, hyps):
        assert nbest
        for h in nbest:
            expected = score_of(model, s, h.ids) / (len(h.ids) + 1)
            assert h.score == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_max_len_is_respected_per_sentence(make_model, search):
    """A model that (almost) never says eos runs every sentence to its own maximum."""
    model = make_model(tgt_vocab=12, init_range=0.5, seed=6)
    with torch.no_grad():
        model.decoder.out.bias[EOS] = -30.0
    src = Source.of_ids(SOURCES)
    max_len = torch.tensor([1, 2, 3, 4, 5, 6, 7])
    if search == "greedy":
        outs = [h.ids for h in greedy(model, src, max_len)]
    else:
        outs = [h[0].ids for h in beam_search(model, src, max_len, beam_size=3)]
    assert [len(o) for o in outs] == max_len.tolist()
    assert all(PAD not in o and BOS not in o and EOS not in o for o in outs)


def test_max_lengths_is_a_times_length_plus_b_at_least_one():
    lens = torch.tensor([1, 4, 10])
    assert max_lengths(lens, 1.5, 10).tolist() == [int(1.5 * n + 10) for n in (1, 4, 10)]
    assert max_lengths(lens, 0.0, 0).tolist() == [1, 1, 1]


def test_search_keeps_its_buffers_in_glibcs_heap():
    """heap.keep(): glibc takes both settings, once per process; elsewhere it says no."""
    import platform
    from seq2seq.decoding import heap
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc: heap.keep() changes nothing")
    assert heap.keep() is True and heap.keep() is True
