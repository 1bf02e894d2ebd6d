"""Parts that compose. Every encoder x decoder x task combination that exists keeps the
invariants (teacher forcing == step by step; padding changes no sentence's result; beam
size 1 == greedy, scores included; stopping and resuming == not stopping), and an encoder
from outside the package (tests/plugins) trains, searches and resumes through the
unchanged loop, search and command line."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import torch

from conftest import assert_forced_equals_stepwise, model_config, run_cli
from seq2seq.config.compose import load_config
from seq2seq.data.corpus import collate
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import EOS, PAD
from seq2seq.decoding.search import beam_search, greedy
from seq2seq.models.encoder_decoder import build_model
from seq2seq.tasks import token_loss
from seq2seq.tasks.translation.translator import Translator
from seq2seq.training import checkpoint
from seq2seq.training.loop import train

PLUGINS = Path(__file__).parents[1] / "plugins"
sys.path.insert(0, str(PLUGINS))  # where the config's `mean_encoder.build` is imported from
SEARCHPATH = f"hydra.searchpath=[file://{PLUGINS / 'conf'}]"

# name: (the parts as tests/conftest.py's model_config takes them, the same as overrides)
COMBINATIONS = {
    "paper": ({}, []),
    "gru": ({"cell": "gru"}, ["model.cell=gru"]),
    "birnn+dot": ({"encoder": "birnn", "encoder_hidden_dim": 8, "attention": "dot"},
                  ["model/encoder=birnn", "model.encoder.hidden_dim=8",
                   "model/decoder=attention"]),
    "rnn+general+feeding": ({"attention": "general", "input_feeding": True},
                            ["model/decoder=attention", "model.decoder.attention=general",
                             "model.decoder.input_feeding=true"]),
    "language_model": ({"encoder": "none"}, ["task=language_model", "model/encoder=none",
                                             "data=bible_en"]),
    "plugged-in mean": ({"encoder": "mean_encoder.build"}, [SEARCHPATH, "model/encoder=mean"]),
    "mean+attention": ({"encoder": "mean_encoder.build", "attention": "dot"},
                       [SEARCHPATH, "model/encoder=mean", "model/decoder=attention"]),
}
NAMES = list(COMBINATIONS)
SRC = [[4, 5, 6, 7, 8, 9, EOS], [10, EOS], [6, 6, 4, EOS], [7, 8, 9, 10, 4, EOS]]
TGT = [[4, 5, 6], [7, 8, 4, 5, 6, 7], [8], [5, 5, 5, 5]]


def model(name: str, **sizes):
    torch.manual_seed(0)
    parts = COMBINATIONS[name][0]
    return build_model(model_config(init_range=0.3, **parts, **sizes), 11, 9).eval()


def source(name: str, src: list[list[int]]) -> Source:
    """A language model reads no source; every other combination reads token ids."""
    return Source.empty(len(src)) if name == "language_model" else Source.of_ids(src)


@pytest.mark.parametrize("name", NAMES)
def test_teacher_forcing_equals_step_by_step(name):
    b = collate(SRC, TGT)
    assert_forced_equals_stepwise(model(name), dataclasses.replace(b, src=source(name, SRC)))


@pytest.mark.parametrize("name", NAMES)
def test_padding_changes_no_sentence_s_loss(name):
    m, b = model(name), collate(SRC, TGT)
    b = dataclasses.replace(b, src=source(name, SRC))
    with torch.no_grad():
        for i, (s, t) in enumerate(zip(SRC, TGT)):
            only_i = torch.full_like(b.tgt_out, PAD)  # every other row's targets ignored
            only_i[i] = b.tgt_out[i]
            in_batch = token_loss(m, dataclasses.replace(b, tgt_out=only_i))
            one = collate([s], [t])
            alone = token_loss(m, dataclasses.replace(one, src=source(name, [s])))
            assert float(in_batch) == pytest.approx(float(alone), rel=1e-5), i


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_beam_size_one_is_greedy_scores_included(name, length_penalty):
    m, src = model(name, hidden_dim=8), source(name, SRC)
    max_len = torch.full((len(SRC),), 8)
    beams = beam_search(m, src, max_len, beam_size=1, length_penalty=length_penalty)
    for beam, hyp in zip(beams, greedy(m, src, max_len, length_penalty)):
        assert beam[0].ids == hyp.ids
        assert beam[0].score == pytest.approx(hyp.score, rel=1e-5, abs=1e-5)


# input feeding's step loop (15 s) with make test-all: the other parts resume here
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  if n == "rnn+general+feeding" else n for n in NAMES])
def test_stopping_and_resuming_equals_not_stopping(name, smoke_run, tmp_path):
    """Steps 1-4 in one go == steps 1-2, stop, resume, steps 3-4 (dropout on: RNG too)."""
    def run(folder: str, steps: int) -> None:
        train(load_config(["debug=smoke", *COMBINATIONS[name][1],
                           f"trainer.run_dir={tmp_path / folder}",
                           f"data.prepared_dir={smoke_run['prepared_dir']}",
                           "model.dropout=0.3", f"trainer.max_steps={steps}",
                           "trainer.eval_max_sentences=2", "trainer.tensorboard=false"]))
    run("straight", 4)
    run("stopped", 2)
    run("stopped", 4)
    a, b = (checkpoint.load(tmp_path / r / "checkpoints" / "last.pt")["model"]
            for r in ("straight", "stopped"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


@pytest.mark.slow  # 20 s; in process, the parametrised tests above run it every way
def test_an_encoder_of_our_own_trains_resumes_and_translates_through_the_cli(
        smoke_run, tmp_path, monkeypatch):
    """One module and one config file, outside the package: nothing else changes."""
    monkeypatch.setenv("PYTHONPATH", str(PLUGINS))
    run_dir = tmp_path / "run"
    args = ["debug=smoke", SEARCHPATH, "model/encoder=mean", f"trainer.run_dir={run_dir}",
            f"data.prepared_dir={smoke_run['prepared_dir']}", "trainer.max_steps=4"]
    for steps in (4, 6):  # the second run resumes the first
        result = run_cli("seq2seq-train", *args, f"trainer.max_steps={steps}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    log = (run_dir / "train.log").read_text()
    assert "resumed" in log and "(step 4)" in log and "BLEU" in log
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["step"] == 6
    lines = ["En el principio creó Dios los cielos y la tierra.", "", "Y dijo Dios."]
    (tmp_path / "in.es").write_text("".join(line + "\n" for line in lines))
    result = run_cli("seq2seq-translate", run_dir, "--input", tmp_path / "in.es",
                     "--beam-size", "3", "--nbest", "2", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    got = result.stdout.splitlines()
    want = Translator.from_run(run_dir, device="cpu").translate_nbest(lines, beam=3, nbest=2)
    assert len(got) == 2 * len(lines)
    for i, line in enumerate(want):
        for j, (text, score) in enumerate(line or [("", float("-inf"))] * 2):
            assert got[2 * i + j] == (f"{i} ||| {text} ||| {score:.4f}" if line
                                      else f"{i} |||  ||| -inf")
