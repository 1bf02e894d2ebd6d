"""Checkpoints: written atomically, loaded with a clear error.

A checkpoint is one `torch.save` dict: model and optimizer state, the position in the
data (epoch, batch), RNG states, and the resolved config as a plain dict. It is written to
a temporary file in the same directory, fsynced, then renamed over the old one, so a crash
or a full disk at any moment leaves the previous checkpoint whole.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


def save(payload: dict, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def load(path: Path, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises several types for a damaged file
        raise ValueError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        raise ValueError(f"{path}: not a seq2seq checkpoint (no model or config)")
    return payload


def find(run_or_file: Path) -> Path:
    """A checkpoint file, or the best (else last) checkpoint of a run directory."""
    p = Path(run_or_file)
    if p.is_dir():
        for name in ("best.pt", "last.pt"):
            if (p / name).is_file():
                return p / name
        raise FileNotFoundError(f"{p}: run directory has no best.pt or last.pt")
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such run directory or checkpoint")
    return p
