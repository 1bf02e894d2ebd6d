"""Many-to-one: the classifier on the translation model's own encoder. Padding changes no
sentence's scores, every pooling learns synthetic tasks, and the label metrics agree with
hand-counted ones."""
from __future__ import annotations

import random

import pytest
import torch

from conftest import model_config
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import EOS
from seq2seq.evaluation.metrics import label_scores
from seq2seq.models.encoders import text_encoder
from seq2seq.tasks.classification.model import ClassifierHead, SequenceClassifier

SRC = [[4, 5, 6, 7, 8, 9, EOS], [10, EOS], [6, 6, 4, EOS], [7, 8, 9, 10, 4, EOS], [EOS]]


def classifier(pooling: str, labels: int = 3, encoder: str = "rnn", cell: str = "lstm",
               hidden_dim: int = 16, init_range: float = 0.3, seed: int = 0) -> SequenceClassifier:
    torch.manual_seed(seed)
    cfg = model_config(encoder=encoder, cell=cell, hidden_dim=hidden_dim,
                       encoder_hidden_dim=8 if encoder == "birnn" else None)
    model = SequenceClassifier(text_encoder(cfg, 12),
                               ClassifierHead(pooling, hidden_dim, labels, 0.0))
    for p in model.parameters():
        torch.nn.init.uniform_(p, -init_range, init_range)
    return model.eval()


@pytest.mark.parametrize("pooling", ["final", "mean", "max"])
@pytest.mark.parametrize("encoder,cell", [("rnn", "lstm"), ("birnn", "lstm"), ("rnn", "gru")])
def test_padding_changes_no_sentence_s_scores(pooling, encoder, cell):
    model = classifier(pooling, encoder=encoder, cell=cell)
    with torch.no_grad():
        batch = model(Source.of_ids(SRC))  # (5, 3): several lengths, padded
        for i, src in enumerate(SRC):
            torch.testing.assert_close(batch[i], model(Source.of_ids([src]))[0],
                                       atol=1e-6, rtol=0)


def _data(n: int, rng: random.Random, rule) -> tuple[Source, torch.Tensor]:
    seqs = [[rng.randint(4, 11) for _ in range(rng.randint(2, 8))] for _ in range(n)]
    return Source.of_ids([s + [EOS] for s in seqs]), torch.tensor([rule(s) for s in seqs])


TASKS = {"contains 7": (2, lambda s: int(7 in s)),
         "first token mod 3": (3, lambda s: s[0] % 3),
         "parity of 5s": (2, lambda s: s.count(5) % 2)}


# Parity needs the state after the last token (a max over positions mixes in every prefix's).
LEARNS = [("contains 7", "final"), ("contains 7", "mean"), ("contains 7", "max"),
          ("first token mod 3", "final"), ("first token mod 3", "max"),
          pytest.param("parity of 5s", "final", marks=pytest.mark.slow)]  # 25 s


@pytest.mark.parametrize("task,pooling", LEARNS)
def test_the_classifier_learns_a_synthetic_task(task, pooling):
    """Random sequences of tokens 4..11, 2-8 long; the label is a function of the tokens.
    Trained with Adam on fresh batches, scored on 500 unseen sequences: >= 98%."""
    labels, rule = TASKS[task]
    rng = random.Random(0)
    model = classifier(pooling, labels=labels, hidden_dim=32, init_range=0.08).train()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    test_src, test_labels = _data(500, rng, rule)

    def accuracy() -> float:
        model.eval()
        with torch.no_grad():
            acc = float((model(test_src).argmax(-1) == test_labels).float().mean())
        model.train()
        return acc

    assert accuracy() < 0.9  # not solved by chance
    for step in range(1, 3001):
        src, y = _data(64, rng, rule)
        loss = torch.nn.functional.cross_entropy(model(src), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 and accuracy() >= 0.99:
            break
    assert accuracy() >= 0.98, (task, pooling, step)


def test_label_scores_by_hand():
    """a: 2 of 3 right, b: 1 of 2, c: 1 of 1; F1 = 2 tp / (predicted + gold) per label."""
    gold = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "c", "c"]
    s = label_scores(predicted, gold, ["a", "b", "c"])
    assert s.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert s.accuracy == pytest.approx(100 * 4 / 6)
    assert s.macro_f1 == pytest.approx(100 * (4 / 5 + 2 / 4 + 2 / 3) / 3)


def test_a_label_never_predicted_has_f1_zero_not_an_error():
    s = label_scores(["a", "a", "a"], ["a", "b", "a"], ["a", "b"])
    assert s.accuracy == pytest.approx(200 / 3) and s.confusion == [[2, 0], [1, 0]]
    assert s.macro_f1 == pytest.approx(100 * (0.8 + 0.0) / 2)


def _lm(layers: int = 2, hidden_dim: int = 16, vocab: int = 12):
    from seq2seq.models.encoder_decoder import build_model
    torch.manual_seed(3)
    return build_model(model_config(encoder="none", layers=layers, hidden_dim=hidden_dim),
                       1, vocab)


def test_a_language_model_s_layers_start_the_encoder_exactly():
    from seq2seq.tasks.classification.model import lm_encoder_weights
    lm, model = _lm(), classifier("final")
    weights = lm_encoder_weights(lm.state_dict(), model.encoder, "runs/lm")
    model.encoder.load_state_dict(weights, strict=False)
    got = model.encoder.state_dict()
    assert got.keys() == weights.keys()  # every encoder tensor comes from the LM
    assert torch.equal(got["embed.weight"], lm.decoder.embed.weight)
    for name, tensor in lm.decoder.rnn.state_dict().items():
        assert torch.equal(got[f"rnn.{name}"], tensor), name


def test_a_bidirectional_encoder_is_not_started_from_a_language_model():
    from seq2seq.tasks.classification.model import lm_encoder_weights
    with pytest.raises(ValueError, match=r"^runs/lm: a language model reads one way; a "
                                         r"bidirectional encoder's upper layers read both"):
        lm_encoder_weights(_lm().state_dict(), classifier("final", encoder="birnn").encoder,
                           "runs/lm")


@pytest.mark.parametrize("lm_args,message", [
    (dict(vocab=20), r"runs/lm: the language model's 'decoder.embed.weight' is \(20, 8\), "
                     r"this encoder's 'embed.weight' is \(12, 8\) \(another vocabulary"),
    (dict(hidden_dim=32), r"'decoder.rnn.weight_ih_l0' is \(128, 8\)"),
    (dict(layers=3), r"'decoder.rnn.weight_ih_l2' has no place in this encoder"),
    (dict(layers=1), r"fewer layers than this encoder \('rnn.weight_ih_l1' missing\)"),
])
def test_a_language_model_that_does_not_fit_is_named(lm_args, message):
    from seq2seq.tasks.classification.model import lm_encoder_weights
    with pytest.raises(ValueError, match=message):
        lm_encoder_weights(_lm(**lm_args).state_dict(), classifier("final").encoder, "runs/lm")
