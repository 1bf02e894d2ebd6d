"""Run directories written by earlier code keep working: they translate, decode greedily,
ensemble and sample exactly as that code did (tests/fixtures/old_runs/make.sh made them, and
recorded what that code printed)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

OLD = Path(__file__).parent / "fixtures" / "old_runs"


def cli(name: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", f"seq2seq.{name}", *args, "--device", "cpu"],
                         capture_output=True, text=True, check=True)
    return out.stdout


@pytest.mark.parametrize("run", ["paper", "attention"])
def test_an_old_run_translates_as_it_did(run):
    source = str(OLD / "input.es")
    assert cli("translate", str(OLD / run), "--input", source, "--beam-size", "3",
               "--nbest", "3") == (OLD / run / "expected.nbest").read_text()
    assert cli("translate", str(OLD / run), "--input", source, "--beam-size", "1"
               ) == (OLD / run / "expected.greedy").read_text()


def test_an_ensemble_of_old_runs_translates_as_it_did():
    assert cli("translate", str(OLD / "paper"), str(OLD / "attention"), "--input",
               str(OLD / "input.es"), "--beam-size", "3", "--nbest", "2"
               ) == (OLD / "expected.ensemble.nbest").read_text()


def test_an_old_language_model_samples_as_it_did():
    assert cli("sample", str(OLD / "lm"), "--n", "4", "--seed", "3", "--temperature", "0.9"
               ) == (OLD / "lm" / "expected.sample").read_text()


def test_an_old_checkpoint_averages_with_a_new_one_of_the_same_weights(tmp_path):
    """A run resumed across the renaming keeps checkpoints in both namings; the average of
    an old checkpoint and the same weights saved today is those weights, and translates
    as the old run did."""
    import shutil

    import torch

    from seq2seq.cli.average import average
    from seq2seq.models.encoder_decoder import upgrade_weights
    from seq2seq.training import checkpoint

    run = tmp_path / "paper"
    shutil.copytree(OLD / "paper", run)
    old = run / "checkpoints" / "best.pt"
    payload = checkpoint.load(old)
    assert "tgt_emb.weight" in payload["model"]  # written before the parts were split
    new = run / "checkpoints" / "renamed.pt"
    checkpoint.save(dict(payload, model=upgrade_weights(payload["model"])), new)
    mean = average([old, new])
    for name, tensor in upgrade_weights(payload["model"]).items():
        torch.testing.assert_close(mean["model"][name], tensor, rtol=0, atol=1e-7)
    checkpoint.save(mean, run / "checkpoints" / "best.pt")
    assert cli("translate", str(run), "--input", str(OLD / "input.es"), "--beam-size", "3",
               "--nbest", "3") == (OLD / "paper" / "expected.nbest").read_text()
