"""`seq2seq.load(run)`: the one way in, for every task's run: it makes the predictor the
run's task names (Translator, Sampler, Classifier, Captioner, Tagger), which gives what the task's
own command prints; old run directories load through it with their recorded outputs."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import seq2seq
from conftest import corpus_lines, run_main, write_lines
from seq2seq.decoding.ensemble import Ensemble
from seq2seq.tasks.captioning.cli import main as caption_main
from seq2seq.tasks.classification.cli import main as classify_main
from seq2seq.tasks.language_model.cli import main as sample_main
from seq2seq.tasks.tagging.cli import main as tag_main
from seq2seq.tasks.translation.cli import main as translate_main

OLD = Path(__file__).parents[1] / "fixtures" / "old_runs"
TEXTS = corpus_lines("dev", "es", 4)
PREDICTORS = {"translation": seq2seq.Translator, "language_model": seq2seq.Sampler,
              "classification": seq2seq.Classifier, "captioning": seq2seq.Captioner,
              "tagging": seq2seq.Tagger}


@pytest.mark.parametrize("task", PREDICTORS)
def test_load_makes_the_predictor_of_the_run_s_task(task, task_runs):
    assert type(seq2seq.load(task_runs[task], device="cpu")) is PREDICTORS[task]


def test_each_predictor_says_what_its_command_prints(task_runs, tmp_path):
    source = write_lines(tmp_path / "in.txt", TEXTS)
    load = {task: seq2seq.load(run, device="cpu") for task, run in task_runs.items()}
    expected = {
        "translation": (translate_main, ["--input", source],
                        load["translation"].translate(TEXTS)),
        "classification": (classify_main, ["--input", source],
                           load["classification"].predict(TEXTS)),
        "tagging": (tag_main, ["--input", source], load["tagging"].predict(TEXTS)),
        "language_model": (sample_main, ["--n", "3", "--seed", "4", "--max-len", "9"],
                           load["language_model"].sample(3, seed=4, max_len=9))}
    for task, (main, argv, said) in expected.items():
        status, out, err = run_main(main, [task_runs[task], *argv, "--device", "cpu"])
        assert status == 0 and out.splitlines() == said, (task, err)
    from PIL import Image
    Image.fromarray(np.full((12, 12, 3), 90, np.uint8)).save(tmp_path / "a.png")
    status, out, err = run_main(caption_main, [task_runs["captioning"], tmp_path / "a.png"])
    assert status == 0 and out.splitlines() == load["captioning"].caption([tmp_path / "a.png"])


@pytest.mark.parametrize("config", ["none", "not YAML", "not a config"])
def test_a_checkpoint_loads_by_its_own_config_without_a_readable_config_yaml(
        config, task_runs, tmp_path):
    run = Path(shutil.copytree(task_runs["classification"], tmp_path / "run"))
    {"none": lambda p: p.unlink(), "not YAML": lambda p: p.write_text("a: [b\n"),
     "not a config": lambda p: p.write_text("- a list\n")}[config](run / "config.yaml")
    loaded = seq2seq.load(run / "checkpoints" / "best.pt", device="cpu")
    assert type(loaded) is seq2seq.Classifier
    assert loaded.predict(TEXTS) == seq2seq.load(task_runs["classification"]).predict(TEXTS)


def test_several_runs_load_as_an_ensemble(task_runs):
    run = task_runs["translation"]
    assert isinstance(seq2seq.load(run, run, device="cpu").model, Ensemble)
    with pytest.raises(ValueError, match="at least one run"):
        seq2seq.load()
    with pytest.raises(ValueError, match="a classification run, not a translation run"):
        seq2seq.load(run, task_runs["classification"])


def test_old_runs_load_with_their_recorded_outputs():
    greedy = seq2seq.load(OLD / "paper", device="cpu").translate(
        (OLD / "input.es").read_text().splitlines(), beam=1)
    assert greedy == (OLD / "paper" / "expected.greedy").read_text().splitlines()
    sampler = seq2seq.load(OLD / "lm", device="cpu")
    assert sampler.sample(4, seed=3, temperature=0.9) == \
        (OLD / "lm" / "expected.sample").read_text().splitlines()
