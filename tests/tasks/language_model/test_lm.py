"""The language model (the decoder alone) and sampling from it."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from conftest import assert_forced_equals_stepwise, model_config, run_cli
from seq2seq.data.corpus import collate
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import BOS, EOS, PAD, UNK
from seq2seq.decoding.search import greedy
from seq2seq.models.encoder_decoder import Seq2Seq, build_model
from seq2seq.models.encoders import NoEncoder
from seq2seq.tasks import token_loss
from seq2seq.tasks.language_model.sample import sample
from seq2seq.training import checkpoint


def lm(cell: str = "lstm", seed: int = 0) -> Seq2Seq:
    """A language model: no encoder (model/encoder=none), a 15-piece target vocabulary."""
    torch.manual_seed(seed)
    model = build_model(model_config(emb_dim=8, hidden_dim=16, layers=2, init_range=0.5,
                                     cell=cell, encoder="none"), src_vocab=15, tgt_vocab=15)
    assert isinstance(model.encoder, NoEncoder)
    assert not any(name.startswith("encoder.") for name, _ in model.named_parameters())
    return model.eval()


def greedy_lm(model, n: int, max_len: int) -> list[list[int]]:
    return [h.ids for h in greedy(model, Source.empty(n), torch.full((n,), max_len))]


def first_step(model) -> torch.Tensor:
    """log p(first token), (V,): one step from bos with no source."""
    with torch.no_grad():
        log_probs, _ = model.decode_step(torch.tensor([BOS]), model.encode(Source.empty(1)))
    return log_probs[0]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_teacher_forcing_equals_step_by_step(cell):
    model = lm(cell)
    b = collate([[EOS]] * 3, [[4, 5, 6, 7], [8, 9], [10]])
    assert_forced_equals_stepwise(model, dataclasses.replace(b, src=Source.empty(3)))


def test_the_source_is_ignored():
    model = lm()
    tgt = [[4, 5, 6], [7, 8, 9]]
    a, b = collate([[EOS], [EOS]], tgt), collate([[4, 5, 6, EOS], [9, EOS]], tgt)
    none = dataclasses.replace(a, src=Source.empty(2))
    with torch.no_grad():
        loss = float(token_loss(model, none))
        assert float(token_loss(model, a)) == pytest.approx(loss)
        assert float(token_loss(model, b)) == pytest.approx(loss)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_sampling_at_temperature_towards_zero_is_greedy_decoding(cell):
    model = lm(cell)
    expected = greedy_lm(model, 4, 12)
    assert sample(model, 4, 12, temperature=0.0) == expected
    gen = torch.Generator().manual_seed(0)
    assert sample(model, 4, 12, temperature=1e-6, generator=gen) == expected
    assert sample(model, 4, 12, temperature=1.0, top_k=1, generator=gen) == expected


def test_sampling_draws_from_the_distribution():
    """At T=1 the first token's frequencies match the model's probabilities."""
    model = lm()
    n = 4000
    drawn = sample(model, n, 1, temperature=1.0, generator=torch.Generator().manual_seed(1))
    probs = first_step(model).exp()
    probs[[PAD, BOS, UNK]] = 0  # never drawn
    probs /= probs.sum()
    counts = torch.bincount(torch.tensor([s[0] if s else EOS for s in drawn]), minlength=15)
    # 4 standard deviations of a binomial count: fails only if the sampler is wrong
    sd = (n * probs * (1 - probs)).sqrt()
    assert bool(((counts - n * probs).abs() <= 4 * sd + 1).all())


def test_top_k_draws_only_among_the_k_best():
    model = lm()
    lp = first_step(model).clone()
    lp[[PAD, BOS, UNK]] = float("-inf")
    best3 = set(lp.topk(3).indices.tolist())
    drawn = sample(model, 500, 1, temperature=1.0, top_k=3,
                   generator=torch.Generator().manual_seed(2))
    assert {s[0] if s else EOS for s in drawn} <= best3


def test_language_model_trains_and_samples_through_the_cli(smoke_run, tmp_path):
    run_dir = tmp_path / "lm"
    result = run_cli("seq2seq-train", "experiment=lm_en", "debug=smoke",
                     f"trainer.run_dir={run_dir}",
                     f"data.prepared_dir={smoke_run['prepared_dir']}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (run_dir / "train.log").read_text()
    assert "dev ppl" in log and "BLEU" not in log
    last = checkpoint.load(run_dir / "checkpoints" / "last.pt")
    assert "exp_avg" not in str(last["optimizer"])
    assert last["config"]["task"] == "language_model"
    assert not any(name.startswith("encoder.") for name in last["model"])  # no encoder
    result = run_cli("seq2seq-sample", run_dir, "--n", "3", "--temperature", "0.8",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert len(lines) == 4 and lines[-1] == "" and "⁇" not in result.stdout
    result = run_cli("seq2seq-sample", smoke_run["run_dir"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"seq2seq-sample: error: {smoke_run['run_dir']}: "
                                            "a translation run, not a language_model run")


def test_adam_and_label_smoothing_through_the_cli(smoke_run, tmp_path):
    run_dir = tmp_path / "adam"
    result = run_cli("seq2seq-train", "debug=smoke", f"trainer.run_dir={run_dir}",
                     f"data.prepared_dir={smoke_run['prepared_dir']}", "optim.name=adam",
                     "optim.lr=0.002", "optim.label_smoothing=0.1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    state = checkpoint.load(run_dir / "checkpoints" / "last.pt")["optimizer"]["state"]
    assert state and all("exp_avg" in s for s in state.values())


def test_label_smoothing_is_the_mixture_with_the_uniform_distribution(make_model):
    model = make_model(init_range=0.5)
    b = collate([[4, 5, EOS], [6, EOS]], [[4, 5, 6], [7]])
    eps = 0.1
    with torch.no_grad():
        smoothed = token_loss(model, b, label_smoothing=eps)
        log_p = F.log_softmax(model.logits(model(b.src, b.tgt_in)), -1)
        mask = b.tgt_out != PAD
        nll = -log_p.gather(-1, b.tgt_out.unsqueeze(-1)).squeeze(-1)[mask].sum()
        uniform = -log_p.mean(-1)[mask].sum()
    assert float(smoothed) == pytest.approx(float((1 - eps) * nll + eps * uniform), rel=1e-5)


# ---------------------------------------------------------------- its own, single-sided data
def _one_language(tmp_path, lines: dict) -> list[str]:
    """Only `{split}.en` files (no other language anywhere); the config that reads them."""
    for split, texts in lines.items():
        (tmp_path / f"{split}.en").write_text("".join(t + "\n" for t in texts))
    return ["task=language_model", "data=bible_en", "model/encoder=none",
            f"data.local_dir={tmp_path}", f"data.prepared_dir={tmp_path / 'prepared'}",
            "data.max_len=12", "tokenizer.tgt_vocab_size=40", "tokenizer.model_type=word"]


def test_its_preparation_reads_one_language_and_filters_by_its_own_length(tmp_path):
    from seq2seq.config.compose import load_config
    from seq2seq.data.prepare import prepare
    from seq2seq.data.tokens import TextArrays
    words = "in the beginning god created the heaven and the earth".split()
    train = [" ".join(words[: 1 + i % 10]) for i in range(60)] + ["", " ".join(words * 2)]
    prepared = prepare(load_config(_one_language(tmp_path, {
        "train": train, "dev": train[:7], "test": train[:5]})))
    arrays = TextArrays(prepared.train)
    assert len(arrays) == 60  # the empty line and the 20-word one dropped, nothing else
    assert not (prepared.train / "src.ids").exists() and not prepared.dev_src.exists()
    assert prepared.dev_ref.read_text().splitlines() == train[:7]
    for index in arrays.batches(max_tokens=40, max_sentences=8, seed=1, epoch=0):
        assert len(set(arrays.tgt.lens[index].tolist())) == 1  # one length a batch
        b = arrays.collate(index)
        assert b.src.values.shape == (len(index), 0) and b.n_units == b.n_tokens
        assert b.tgt_in.size(1) == int(arrays.tgt.lens[index[0]]) + 1  # no padding


def test_it_trains_on_one_language_and_an_old_lm_config_still_reads(tmp_path):
    from seq2seq.config.compose import config_from_dict, config_to_dict, load_config
    from seq2seq.training.loop import train
    words = "and god said let there be light and there was light".split()
    texts = [" ".join(words[i % 5: i % 5 + 3 + i % 4]) for i in range(40)]
    cfg = load_config([*_one_language(tmp_path, {"train": texts, "dev": texts[:6],
                                                 "test": texts[:4]}),
                       "model.emb_dim=8", "model.hidden_dim=8", "model.layers=1",
                       "trainer.max_steps=3", f"trainer.run_dir={tmp_path / 'run'}",
                       "trainer.tensorboard=false"])
    train(cfg)
    saved = checkpoint.load(tmp_path / "run" / "checkpoints" / "last.pt")
    assert saved["step"] == 3 and saved["config"]["data"]["tgt_lang"] == "en"
    old = config_to_dict(cfg)  # as a run saved before the language model had its own node
    old["data"] = {**old["data"], "src_lang": "es", "extra_ref_langs": []}
    assert config_from_dict(old, saved=True) == cfg
