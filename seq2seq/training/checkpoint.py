"""Checkpoints and other run files: written atomically, loaded with a clear error.

A checkpoint is one `torch.save` dict: model and optimizer state, the position in the
data (epoch, batch), RNG states, and the resolved config as a plain dict. Every file a run
writes goes to a temporary file in the same directory, is fsynced, then renamed over the
old one, so a crash or a full disk at any moment leaves the previous version whole.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

import torch
from torch import nn

from seq2seq.config.compose import (TrainConfig, config_from_dict, config_to_dict,
                                    read_config_file)
from seq2seq.tasks import readers, task_class
from seq2seq.training.rundir import RunDir, find_checkpoint


@contextlib.contextmanager
def atomic_open(path: Path) -> Iterator[BinaryIO]:
    """A binary file that replaces `path` only once it is completely written and synced.

    On any error (a full disk included) the temporary file goes and `path` is untouched;
    the error names `path` in one line.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would make run files private
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            kept = "the previous version is kept" if path.exists() else "nothing written"
            raise OSError(f"{path}: not written ({exc.strerror or exc}); {kept}") from None
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_open(path) as f:
        f.write(data)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def remove_stale_temporaries(directory: Path) -> None:
    """Temporary files left by a process killed while writing (never a complete file)."""
    for tmp in Path(directory).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def save(payload: dict, path: Path) -> None:
    # Serialised in memory first: torch's zip writer turns a failed write (a full disk)
    # into an opaque RuntimeError; a plain write gives the OSError that names the cause.
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(path, buffer.getbuffer())


def load(path: Path, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    if path.suffix == ".safetensors":
        return load_exported(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises several types for a damaged file
        raise ValueError(f"{path}: not a readable checkpoint, truncated or corrupt "
                         f"({type(exc).__name__})") from None
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        raise ValueError(f"{path}: not a seq2seq checkpoint (no model or config)")
    return payload


def load_exported(path: Path) -> dict:
    """An export's weights (safetensors: tensors and a JSON header, never a pickle) and the
    config.yaml beside them, as a checkpoint's payload. Anything else, a pickle put in
    their place included, is refused in one line without being run."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        weights = load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a safetensors file, refused (an export's weights are "
                         f"never unpickled): {' '.join(str(exc).split())[:80]}") from None
    if not path.with_name("config.yaml").is_file():
        raise FileNotFoundError(f"{path.with_name('config.yaml')}: missing beside the export's "
                                "weights")
    cfg = read_config_file(path.with_name("config.yaml"))
    return {"model": weights, "config": config_to_dict(cfg)}


def load_for_command(run_or_file: Path, command: str) -> tuple[Path, dict, TrainConfig]:
    """(checkpoint path, payload, config) of a run directory (its best.pt, else last.pt) or
    checkpoint file, for `command` (seq2seq-translate, ...): a run of a task that another
    command reads is refused in one line naming the run, its task and the command that
    reads it, before any model is built from a config it does not fit."""
    path = find_checkpoint(Path(run_or_file))
    payload = load(path)
    cfg = config_from_dict(payload["config"], saved=True)
    reader = task_class(cfg.task).command
    if reader != command:
        wanted = readers(command)
        raise ValueError(f"{run_or_file}: a {cfg.task} run, not a {' or '.join(wanted)} run "
                         f"(task={cfg.task}: {reader} reads it; {command} needs "
                         f"{' or '.join('task=' + w for w in wanted)})")
    return path, payload, cfg


def run_task(run_or_file: Path) -> str:
    """The task a run learnt: its config.yaml's (read in an instant), else (none, or not a
    config) its checkpoint's."""
    path = find_checkpoint(Path(run_or_file))
    try:
        return read_config_file(RunDir.of_checkpoint(path).config).task
    except (OSError, ValueError):
        return config_from_dict(load(path)["config"], saved=True).task


def load_weights(model: nn.Module, weights: dict, path: Path) -> None:
    """`model.load_state_dict`, with one line naming the first tensor that does not fit."""
    check_weights(model, weights, path)
    model.load_state_dict(weights)


def check_weights(model: nn.Module, weights: dict, path: Path) -> None:
    """One line naming the first tensor of `weights` that `model` has not, or not so shaped."""
    own = model.state_dict()
    for name in sorted(own.keys() ^ weights.keys()):
        where = "checkpoint" if name in weights else "model"
        raise ValueError(f"{path}: checkpoint of another model: '{name}' only in the {where}")
    for name, tensor in weights.items():
        if tensor.shape != own[name].shape:
            raise ValueError(f"{path}: checkpoint of another model shape or vocabulary: "
                             f"'{name}' is {tuple(tensor.shape)}, this model's is "
                             f"{tuple(own[name].shape)}")

