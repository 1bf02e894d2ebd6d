"""Before training writes a byte into a run directory: is it this run's?

`seq2seq-train trainer.run_dir=D` starts a run in an empty D and resumes the run in D
otherwise. A command that differs from the one that made D (another task, model shape,
tokenizer or data; another label set or sentencepiece model; a checkpoint that cannot be
resumed) is refused in one line naming what differs, and D is left byte for byte as it was:
`check_run_dir` reads and never writes; `write_run_files` writes after it.

What may change between a run's commands: the budget and the schedule (optim.epochs,
optim.lr, trainer.max_time ...), logging, decoding and where things live (data.local_dir,
data.prepared_dir). What may not (`FIXED` minus `MOVABLE`): anything that changes the
parameters' shapes, the pieces, the labels or which pairs an epoch holds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
from omegaconf import OmegaConf
from torch import nn

from seq2seq.config.compose import TrainConfig, config_from_dict, config_to_dict, read_config_file
from seq2seq.data.prepared import PreparedDir
from seq2seq.models.encoder_decoder import upgrade_weights
from seq2seq.training import checkpoint
from seq2seq.training.rundir import RunDir

FIXED = ("task", "data.", "tokenizer.", "model.", "optim.name")
# Where the data lie and how fast they are read, training-time augmentation (a data node's
# augment_* keys) and dropout (a resumed run may change its regularisation), and what only
# the first step reads
MOVABLE = {"data.local_dir", "data.prepared_dir", "data.num_proc", "data.image_root",
           "data.name", "model.dropout", "model.init_range", "model.init_from"}
AUGMENTATION = "data.augment_"


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"model.hidden_dim": 256, ...}: every leaf of a plain config dict by its dotted key."""
    if not isinstance(tree, dict):
        return {prefix[:-1]: tree}
    return {k: v for key, sub in tree.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}


def changed_keys(saved: TrainConfig, now: TrainConfig) -> list[str]:
    """The fixed keys whose values differ, as `key=saved (now value)`: task first, then
    in key order."""
    old, new = _flat(config_to_dict(saved)), _flat(config_to_dict(now))
    fixed = [k for k in sorted(old.keys() | new.keys(), key=lambda k: (k != "task", k))
             if k.startswith(FIXED) and k not in MOVABLE and not k.startswith(AUGMENTATION)]
    return [f"{k}={old.get(k)} (now {new.get(k)})" for k in fixed if old.get(k) != new.get(k)]


def saved_config(paths: RunDir, payload: Optional[dict]) -> Optional[TrainConfig]:
    """The config the run trained with: last.pt's, else config.yaml's (a run stopped before
    its first checkpoint); None in a new run directory."""
    if payload is not None:
        return config_from_dict(payload["config"], saved=True)
    return read_config_file(paths.config) if paths.config.is_file() else None


def _check_same_file(kept: Path, source: Path, what: str) -> None:
    """A run's copy of a preparation file (labels, sentencepiece model) must be unchanged:
    `what` says which, with its verb ("labels differ")."""
    if kept.is_file() and source.is_file() and kept.read_bytes() != source.read_bytes():
        raise ValueError(f"{kept}: the run's {what} from {source} (the data or tokenizer "
                         "changed?): train into a new trainer.run_dir")


def check_run_dir(paths: RunDir, cfg: TrainConfig, prepared: PreparedDir, model: nn.Module,
                  world: int, device: torch.device) -> Optional[dict]:
    """Refuse, in one line, a run directory that this command must not write into; return
    its last.pt (the state to resume from), or None for a new run. Writes nothing."""
    if paths.root.exists() and not paths.root.is_dir():
        raise ValueError(f"config key 'trainer.run_dir': {paths.root} is a file, not a "
                         "directory")
    last = paths.checkpoint("last.pt")
    payload = checkpoint.load(last, map_location=device) if last.is_file() else None
    saved = saved_config(paths, payload)
    if saved is not None:
        changed = changed_keys(saved, cfg)
        if changed:
            more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
            raise ValueError(f"{paths.root}: a run of another config: {', '.join(changed[:4])}"
                             f"{more}; train into a new trainer.run_dir")
    _check_same_file(paths.labels, prepared.labels, "labels differ")
    for name in ("src.model", "tgt.model"):
        _check_same_file(paths.spm / name, prepared.spm / name, "sentencepiece model differs")
    if payload is not None:
        _check_resumable(last, payload, model, world)
    return payload


def _check_resumable(path: Path, payload: dict, model: nn.Module, world: int) -> None:
    if "optimizer" not in payload:
        raise ValueError(f"{path}: no optimizer state (an average from seq2seq-average?): it "
                         "translates but cannot be resumed; train into a new trainer.run_dir")
    if payload.get("world", 1) != world:
        raise ValueError(f"{path}: saved by {payload.get('world', 1)} processes, resumed with "
                         f"{world}: the data order would differ")
    checkpoint.check_weights(model, upgrade_weights(payload["model"]), path)


def write_run_files(paths: RunDir, cfg: TrainConfig, prepared: PreparedDir) -> None:
    """config.yaml, and copies of the preparation's files (sentencepiece models, labels)
    the run lacks: those it has, check_run_dir found equal to them."""
    checkpoint.remove_stale_temporaries(paths.root)
    checkpoint.remove_stale_temporaries(paths.checkpoints)
    checkpoint.write_text_atomic(paths.config, OmegaConf.to_yaml(OmegaConf.structured(cfg)))
    for source, kept in ((prepared.src_model, paths.spm / "src.model"),
                         (prepared.tgt_model, paths.spm / "tgt.model"),
                         (prepared.labels, paths.labels)):  # a classifier's
        if source.is_file() and not kept.is_file():
            checkpoint.write_bytes_atomic(kept, source.read_bytes())
