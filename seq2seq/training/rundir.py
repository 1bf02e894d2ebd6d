"""A run directory: every file of one training run, in one place, with fixed names.

    runs/demo/
      config.yaml              the resolved config the run trained with
      train.log                the log, as printed
      metrics.jsonl            one JSON object per log line: training (train_loss, lr, ...)
                               and evaluation (dev_ppl, dev_bleu + signature; report.py)
      spm/src.model            the sentencepiece models (copied from the prepared data)
      spm/tgt.model
      labels.txt               a classifier's labels (task=classification), line i is label id i
      checkpoints/last.pt      the latest state: running the same command resumes from it
      checkpoints/best.pt      the best on dev; what seq2seq-translate uses
      checkpoints/checkpoint_<step>.pt, averaged.pt   (keep_checkpoints, seq2seq-average)
      translations/dev.hyp     the dev translations (a classifier's labels) of the latest
                               evaluation
      translations/test.hyp    `make translate`; test.score next to it
      tensorboard/             event files (when tensorboard is installed)
      curves.png               seq2seq-plot

Every command takes the run directory; a checkpoint file works too (its run directory is
the folder above `checkpoints/`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable


@dataclass(frozen=True)
class RunDir:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def log(self) -> Path:
        return self.root / "train.log"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def spm(self) -> Path:
        return self.root / "spm"

    @property
    def labels(self) -> Path:
        """A classifier's label set, one a line: line i names label id i."""
        return self.root / "labels.txt"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def translations(self) -> Path:
        return self.root / "translations"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def plot(self) -> Path:
        return self.root / "curves.png"

    def checkpoint(self, name: str) -> Path:
        return self.checkpoints / name

    @classmethod
    def of_checkpoint(cls, path: Path) -> "RunDir":
        """The run a checkpoint file belongs to: `<run>/checkpoints/<name>.pt`; a
        checkpoint kept elsewhere goes with `spm/` beside it."""
        folder = Path(path).resolve().parent
        return cls(folder.parent if folder.name == "checkpoints" else folder)


def inference_files(runs: Iterable[Path]) -> list[Path]:
    """What inference reads of each run: the checkpoint, and the run files beside it
    (which no command's output may replace)."""
    files = []
    for path in map(find_checkpoint, runs):
        run = RunDir.of_checkpoint(path)
        files += [path, run.spm / "src.model", run.spm / "tgt.model", run.labels, run.config]
    return files


EXPORTED_WEIGHTS = "model.safetensors"  # an export's (seq2seq-export): no pickle


def find_checkpoint(run_or_file: Path) -> Path:
    """An export's `model.safetensors`, a run directory's `best.pt` (else `last.pt`), or
    the checkpoint file itself."""
    path = Path(run_or_file)
    if path.is_dir() and (path / EXPORTED_WEIGHTS).exists():
        return path / EXPORTED_WEIGHTS
    if path.is_dir():
        run = RunDir(path)
        for name in ("best.pt", "last.pt"):
            if run.checkpoint(name).is_file():
                return run.checkpoint(name)
        raise FileNotFoundError(f"{path}: run directory has no checkpoints/best.pt or last.pt")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such run directory or checkpoint")
    return path
