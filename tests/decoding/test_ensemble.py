"""Ensembles (mean log-probabilities in one beam search) and checkpoint averaging."""
from __future__ import annotations


import pytest
import torch

from conftest import corpus_lines, run_cli, write_lines
from seq2seq.cli.average import average
from seq2seq.data.corpus import collate
from seq2seq.data.tokenizer import EOS, Tokenizer, load_spm, train_spm
from seq2seq.decoding.ensemble import Ensemble, check_shared_vocabulary
from seq2seq.decoding.search import beam_search, greedy
from seq2seq.training import checkpoint

SRC = [[4, 5, 6, 7, 8, EOS], [7, EOS], [6, 6, 4, EOS]]


def decode(model, beam: int):
    b = collate(SRC, [[4]] * len(SRC))
    max_len = torch.full((len(SRC),), 7)
    return beam_search(model, b.src, max_len, beam_size=beam, nbest=2)


@pytest.mark.parametrize("copies", [1, 2])
def test_an_ensemble_of_copies_of_one_model_is_that_model(make_model, copies):
    model = make_model(init_range=0.5)
    alone, together = decode(model, 3), decode(Ensemble([model] * copies).eval(), 3)
    assert [[h.ids for h in hs] for hs in alone] == [[h.ids for h in hs] for hs in together]
    assert [[h.score for h in hs] for hs in alone] == [[h.score for h in hs] for hs in together]


def test_ensemble_step_is_the_mean_of_the_members_log_probabilities(make_model):
    a, b = make_model(init_range=0.5, seed=1), make_model(init_range=0.5, seed=2)
    ens = Ensemble([a, b]).eval()
    batch = collate(SRC, [[4]] * len(SRC))
    tokens = torch.tensor([4, 5, 6])
    with torch.no_grad():
        got, state = ens.decode_step(tokens, ens.encode(batch.src))
        lp_a, _ = a.decode_step(tokens, a.encode(batch.src))
        lp_b, _ = b.decode_step(tokens, b.encode(batch.src))
    torch.testing.assert_close(got, (lp_a + lp_b) / 2, rtol=0, atol=1e-6)
    assert len(state.select(torch.tensor([2, 0]))) == 2
    # and search runs on it: beam 1 is greedy for an ensemble too
    max_len = torch.full((len(SRC),), 7)
    one = beam_search(ens, batch.src, max_len, beam_size=1)
    g = greedy(ens, batch.src, max_len)
    assert [h[0].ids for h in one] == [h.ids for h in g]
    assert [h[0].score for h in one] == [h.score for h in g]


def test_members_must_share_the_vocabulary(tokenizer, tmp_path):
    other = train_spm(corpus_lines("train", "en", 300), tmp_path / "other", vocab_size=140,
                      model_type="unigram")
    odd = Tokenizer(tokenizer.src, load_spm(other))
    check_shared_vocabulary([tokenizer, tokenizer], ["runs/a", "runs/b"])
    with pytest.raises(ValueError, match="runs/b: its target vocabulary differs from runs/a's"):
        check_shared_vocabulary([tokenizer, odd], ["runs/a", "runs/b"])


def _payload(model, step: int) -> dict:
    return {"model": {k: v.clone() for k, v in model.state_dict().items()}, "step": step,
            "config": {}, "optimizer": {}}


def test_averaging_copies_of_one_checkpoint_gives_that_checkpoint(make_model, tmp_path):
    model = make_model(init_range=0.5)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"checkpoint_{i}.pt")
        checkpoint.save(_payload(model, i), paths[-1])
    out = average(paths)
    assert out["step"] == 2 and "optimizer" not in out
    for name, tensor in model.state_dict().items():
        assert torch.equal(out["model"][name], tensor), name


def test_averaging_two_checkpoints_is_their_mean(make_model, tmp_path):
    a, b = make_model(seed=1), make_model(seed=2)
    checkpoint.save(_payload(a, 1), tmp_path / "a.pt")
    checkpoint.save(_payload(b, 2), tmp_path / "b.pt")
    out = average([tmp_path / "a.pt", tmp_path / "b.pt"])
    for name, ta in a.state_dict().items():
        torch.testing.assert_close(out["model"][name], (ta + b.state_dict()[name]) / 2)
    other = make_model(hidden_dim=8)
    checkpoint.save(_payload(other, 3), tmp_path / "c.pt")
    with pytest.raises(ValueError, match="c.pt: a checkpoint of another model shape"):
        average([tmp_path / "a.pt", tmp_path / "c.pt"])


def test_ensemble_and_average_through_the_cli(smoke_run, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("seq2seq-train", "debug=smoke", f"trainer.run_dir={run_dir}",
                     f"data.prepared_dir={smoke_run['prepared_dir']}", "trainer.eval_every=2",
                     "trainer.keep_checkpoints=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("checkpoint_*.pt")) == [
        "checkpoint_00000004.pt", "checkpoint_00000006.pt"]
    result = run_cli("seq2seq-average", run_dir, "--last", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    averaged = run_dir / "checkpoints" / "averaged.pt"
    assert checkpoint.load(averaged)["averaged"][-1].endswith("_00000006.pt")
    result = run_cli("seq2seq-average", run_dir, "--last", "3", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"seq2seq-average: error: {run_dir}: 2 checkpoint_<step>.pt "
                                      "files, --last 3 asked (train with "
                                      "trainer.keep_checkpoints >= K)")
    src = write_lines(tmp_path / "in.txt", corpus_lines("test", "es", 6))
    single = run_cli("seq2seq-translate", smoke_run["run_dir"], "--input", src, cwd=tmp_path)
    twice = run_cli("seq2seq-translate", smoke_run["run_dir"], smoke_run["run_dir"],
                    "--input", src, cwd=tmp_path)
    assert single.returncode == twice.returncode == 0, twice.stderr
    assert single.stdout == twice.stdout and single.stdout.count("\n") == 6
    mixed = run_cli("seq2seq-translate", smoke_run["run_dir"], averaged,
                    "--input", src, cwd=tmp_path)
    assert mixed.returncode == 0 and mixed.stdout.count("\n") == 6, mixed.stderr
