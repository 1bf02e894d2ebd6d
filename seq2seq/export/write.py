"""seq2seq-export's directory: what inference reads of a run, and nothing it need not.

    OUT/README.md          the model card (card.py)
    OUT/config.yaml        the run's config, the paths of the machine that trained it blanked
    OUT/model.safetensors  the best checkpoint's weights as they are (fp32): no optimizer
                           state, no pickle
    OUT/spm/src.model      the sentencepiece models
    OUT/spm/tgt.model
    OUT/labels.txt         a classifier's or tagger's labels, where the run has them

An ensemble is OUT/members/1, OUT/members/2, ... (each as above) under one README.md; with
`average=True` several runs of one shape are one model, the mean of their weights. The
directory is written beside OUT and renamed into place when complete.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from omegaconf import OmegaConf

from seq2seq.config.compose import TrainConfig, config_from_dict, config_to_dict
from seq2seq.export.card import model_card
from seq2seq.export.locate import MEMBERS, locate
from seq2seq.models.encoder_decoder import upgrade_weights
from seq2seq.training import checkpoint
from seq2seq.training.averaging import average as mean_payload
from seq2seq.training.rundir import EXPORTED_WEIGHTS, RunDir, find_checkpoint

# the machine's paths in a config: blanked, as inference reads none of them
MACHINE_PATHS = {"trainer": ("run_dir",), "data": ("local_dir", "prepared_dir", "image_root")}


@dataclass
class Source:
    """A run to export: its checkpoint's payload and the run files beside it."""
    path: Path
    checkpoint: Path
    payload: dict
    cfg: TrainConfig

    @property
    def run(self) -> RunDir:
        return RunDir.of_checkpoint(self.checkpoint)


def read_source(run: Path) -> Source:
    ckpt = find_checkpoint(run)
    payload = checkpoint.load(ckpt)
    return Source(run, ckpt, payload, config_from_dict(payload["config"], saved=True))


def export(runs: list[Path], out: Path, average: bool = False,
           license_id: str | None = None, check: Callable[[Path], object] | None = None
           ) -> Path:
    """Write the export of `runs` (one model, an ensemble, or with `average` their mean)
    to `out`, which must not exist; returns `out`. `check(folder)` (seq2seq-export: load
    it as a user would) runs on the complete folder before it takes the name `out`."""
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out}: exists; an export is written to a new directory")
    sources = [read_source(p) for p in locate(runs)]
    tasks = {s.cfg.task for s in sources}
    if len(tasks) > 1:
        raise ValueError(f"runs of several tasks ({', '.join(sorted(tasks))}): one export is "
                         "one task")
    if average and len(sources) > 1:
        merged = mean_payload([s.checkpoint for s in sources])
        members = [Source(sources[0].path, sources[0].checkpoint, merged, sources[0].cfg)]
    else:
        members = sources
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        folders = [tmp] if len(members) == 1 else [tmp / MEMBERS / str(i) for i in
                                                   range(1, len(members) + 1)]
        for folder, source in zip(folders, members):
            write_member(folder, source)
        card = model_card(sources, out.name, averaged=average and len(sources) > 1,
                          license_id=license_id)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        readable(tmp)
        if check is not None:
            check(tmp)  # e.g. an ensemble whose members do not fit together
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def write_member(folder: Path, source: Source) -> None:
    """One model's files: config.yaml, model.safetensors, spm/, labels.txt."""
    from safetensors.torch import save_file
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(OmegaConf.to_yaml(inference_config(source.cfg)),
                                        encoding="utf-8")
    weights = upgrade_weights(source.payload["model"])
    # clones: tied parameters share storage, which safetensors refuses to write
    save_file({k: v.detach().to("cpu").clone().contiguous() for k, v in weights.items()},
              str(folder / EXPORTED_WEIGHTS),
              metadata={"format": "pt", "library": "seq2seq", "task": source.cfg.task})
    run = source.run
    (folder / "spm").mkdir()
    for name in ("src.model", "tgt.model"):
        shutil.copyfile(run.spm / name, folder / "spm" / name)
    if run.labels.is_file():
        shutil.copyfile(run.labels, folder / "labels.txt")


def readable(folder: Path) -> None:
    """Modes as the umask gives a new file (mkdtemp and safetensors make them private)."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def inference_config(cfg: TrainConfig) -> dict:
    """The run's config with the paths of the machine that trained it blanked."""
    d = config_to_dict(cfg)
    for node, keys in MACHINE_PATHS.items():
        for key in keys:
            if key in d[node]:
                d[node][key] = "" if key in ("run_dir", "prepared_dir") else None
    return d


def weights_bytes(model: dict[str, torch.Tensor]) -> int:
    """The bytes of a state dict's tensors (what the export's weights hold)."""
    return sum(t.numel() * t.element_size() for t in model.values())
