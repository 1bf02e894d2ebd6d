"""The CRF against brute force: every tag sequence of small cases enumerated."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from seq2seq.tasks.tagging.crf import CRF


def brute(crf: CRF, emissions: torch.Tensor, n: int) -> dict[tuple, float]:
    """Score of every tag sequence of the first n positions of one row (S, T)."""
    T = emissions.size(1)
    scores = {}
    for seq in itertools.product(range(T), repeat=n):
        s = crf.start[seq[0]] + crf.end[seq[-1]] + sum(emissions[t, y] for t, y in enumerate(seq))
        s = s + sum(crf.trans[a, b] for a, b in zip(seq, seq[1:]))
        scores[seq] = float(s.detach())
    return scores


@pytest.fixture
def case():
    torch.manual_seed(0)
    crf = CRF(3)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_(0, 1)
    emissions = torch.randn(3, 4, 3)  # rows of lengths 4, 2, 1
    return crf, emissions, torch.tensor([4, 2, 1])


def test_partition_nll_viterbi_and_marginals_equal_brute_force(case):
    crf, emissions, lens = case
    log_z = crf.log_partition(emissions, lens)
    paths = crf.viterbi(emissions, lens)
    marginals = crf.marginals(emissions, lens)
    tags = torch.tensor([[0, 2, 1, 1], [2, 2, 0, 0], [1, 0, 0, 0]])
    gold = crf.gold_score(emissions, tags, lens)
    for row, n in enumerate(lens.tolist()):
        scores = brute(crf, emissions[row], n)
        z = math.log(sum(math.exp(s) for s in scores.values()))
        assert float(log_z[row]) == pytest.approx(z, abs=1e-5)
        assert tuple(paths[row]) == max(scores, key=scores.get)
        assert float(gold[row]) == pytest.approx(scores[tuple(tags[row, :n].tolist())], abs=1e-5)
        for t in range(n):
            for y in range(3):
                p = sum(math.exp(s - z) for seq, s in scores.items() if seq[t] == y)
                assert float(marginals[row, t, y]) == pytest.approx(p, abs=1e-5)
        assert float(marginals[row, n:].abs().sum()) == 0  # nothing past the row's length
    nll = crf.nll(emissions, tags, lens)
    assert float(nll) == pytest.approx(float((log_z - gold).sum()), abs=1e-5)


def test_padding_changes_nothing(case):
    """A row scored alone equals the same row in a padded batch."""
    crf, emissions, lens = case
    alone = crf.log_partition(emissions[1:2, :2], lens[1:2])
    assert float(alone) == pytest.approx(float(crf.log_partition(emissions, lens)[1]), abs=1e-6)
    assert crf.viterbi(emissions[1:2, :2], lens[1:2]) == [crf.viterbi(emissions, lens)[1]]


def test_nll_is_a_proper_loss_and_learns_transitions():
    """-log p >= 0, and gradient steps make a forbidden transition (0 -> 2) unlikely."""
    torch.manual_seed(1)
    crf = CRF(3)
    emissions = torch.zeros(8, 5, 3)
    tags = torch.tensor([[0, 1, 2, 2, 1]] * 8)
    lens = torch.full((8,), 5)
    opt = torch.optim.SGD(crf.parameters(), lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        loss = crf.nll(emissions, tags, lens)
        assert float(loss) >= 0
        loss.backward()
        opt.step()
    assert crf.viterbi(emissions[:1], lens[:1]) == [[0, 1, 2, 2, 1]]


def test_an_empty_row_is_refused():
    with pytest.raises(ValueError, match="at least one token"):
        CRF(2).log_partition(torch.zeros(1, 1, 2), torch.tensor([0]))
