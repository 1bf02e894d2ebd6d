"""What a run argument stands for, before anything is read: a run directory, a checkpoint
file or an export is itself; `hf://owner/name` (or `hf://owner/name@revision`) is the local
snapshot huggingface_hub's `snapshot_download` keeps of that repository (downloaded once,
then read from its cache, offline too); an ensemble export is its members, in order.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

HUB = "hf:"
MEMBERS = "members"  # an ensemble export's members: members/1, members/2, ...


def is_hub(run: str | Path) -> bool:
    return str(run).startswith(HUB + "/")  # Path("hf://a/b") is "hf:/a/b"


def from_hub(run: str | Path) -> Path:
    """The local snapshot of `hf://owner/name[@revision]`; one line if it cannot be had."""
    spec = str(run)[len(HUB):].lstrip("/")
    name = f"hf://{spec}"  # as typed: a Path folds the double slash
    repo, _, revision = spec.partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ValueError(f"{name}: a hub model is hf://owner/name (or hf://owner/name@revision)")
    from huggingface_hub import snapshot_download  # datasets' own dependency
    try:
        return Path(snapshot_download(repo_id=repo, revision=revision or None))
    except Exception as exc:  # offline, unknown repository, no access: several types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ValueError(f"{name}: not available from the Hugging Face hub "
                         f"({type(exc).__name__}: {first[:200]})") from None


def members(export: Path) -> list[Path]:
    """An ensemble export's member directories, in order ([] for anything else)."""
    folder = Path(export) / MEMBERS
    if not folder.is_dir() or (Path(export) / "model.safetensors").exists():
        return []
    found = sorted((p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()),
                   key=lambda p: int(p.name))
    if not found:
        raise FileNotFoundError(f"{folder}: an ensemble export without members")
    return found


def locate(runs: Iterable[str | Path]) -> list[Path]:
    """The run directories, checkpoint files or single exports that `runs` stand for."""
    out = []
    for run in runs:
        path = from_hub(run) if is_hub(run) else Path(run)
        out += members(path) or [path]
    return out
