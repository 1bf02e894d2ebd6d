"""Checkpoints: atomic writes, clear errors on damaged files, finding a run's checkpoint."""
from __future__ import annotations

import re

import pytest
import torch

from seq2seq.training import checkpoint
from seq2seq.training.rundir import RunDir, find_checkpoint


def payload(value: float) -> dict:
    return {"model": {"w": torch.full((4, 4), value)}, "config": {"model": {"layers": 1}},
            "step": int(value)}


def temp_files(directory):
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_save_then_load_round_trips(tmp_path):
    path = tmp_path / "sub" / "last.pt"
    checkpoint.save(payload(3.0), path)  # creates the directory too
    back = checkpoint.load(path)
    assert torch.equal(back["model"]["w"], torch.full((4, 4), 3.0))
    assert back["config"] == {"model": {"layers": 1}} and back["step"] == 3
    assert temp_files(path.parent) == []


def test_a_failed_save_leaves_the_old_checkpoint_whole(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoint.save(payload(1.0), path)
    before = path.read_bytes()
    real_save = torch.save

    def save_half_then_fail(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.seek(0)
        f.truncate(100)  # half written ...
        raise OSError("No space left on device")  # ... then the disk fills up

    monkeypatch.setattr(torch, "save", save_half_then_fail)
    with pytest.raises(OSError, match="No space"):
        checkpoint.save(payload(2.0), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert checkpoint.load(path)["step"] == 1
    assert temp_files(tmp_path) == []


def test_an_interrupted_save_leaves_no_temp_file(tmp_path, monkeypatch):
    def interrupted(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(payload(1.0), tmp_path / "last.pt")
    assert list(tmp_path.iterdir()) == []


def test_truncated_file_is_a_value_error_naming_it(tmp_path):
    path = tmp_path / "best.pt"
    checkpoint.save(payload(1.0), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=re.escape(str(path))):
        checkpoint.load(path)


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        checkpoint.load(path)
    path.write_text("hello")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        checkpoint.load(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.pt"):
        checkpoint.load(tmp_path / "gone.pt")


def test_find_prefers_best_then_last(tmp_path):
    run = RunDir(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path))):
        find_checkpoint(tmp_path)
    checkpoint.save(payload(1.0), run.checkpoint("last.pt"))
    assert find_checkpoint(tmp_path) == run.checkpoint("last.pt")
    checkpoint.save(payload(2.0), run.checkpoint("best.pt"))
    assert find_checkpoint(tmp_path) == run.checkpoint("best.pt")
    assert find_checkpoint(run.checkpoint("last.pt")) == run.checkpoint("last.pt")  # a file
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_checkpoint(tmp_path / "nowhere")


def test_a_checkpoint_belongs_to_the_run_above_its_folder(tmp_path):
    assert RunDir.of_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt").root == (
        (tmp_path / "run").resolve())
    # kept elsewhere (seq2seq-average --output): its sentencepiece models are beside it
    assert RunDir.of_checkpoint(tmp_path / "avg.pt").spm == tmp_path.resolve() / "spm"
