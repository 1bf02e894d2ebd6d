"""A prepared-data directory: every file seq2seq-prepare writes, with fixed names.

Its own module rather than a second class in rundir.py: a preparation is not a run (one
preparation serves many runs, keyed by its settings), and its readers (train.py, benchmarks,
tests) import it without the `datasets` stack that prepare.py loads.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PreparedDir:
    """The files of one preparation (`prepare.prepared_path`: `<data.prepared_dir>/<key>`).

        data/prepared/bible-es-en/<key>/
          src.model tgt.model       sentencepiece models (the same model twice if joint)
          train/ dev/               flat token arrays, read by `tokens.PairArrays`
          dev.src dev.ref           raw text: dev BLEU during training
          test.src test.ref         raw text: seq2seq-translate and seq2seq-score
          test.ref.1 ...            one more reference per data.extra_ref_langs
          labels.txt                task=classification: the label set (train/ dev/ then hold
                                    labelled arrays, dev.ref and test.ref the labels)
          dev.refs.jsonl ...        task=captioning: every reference of each image (train/
                                    dev/ hold images and captions, dev.src and test.src
                                    the images' paths, dev.ref and test.ref a reference)
          prepare.json              the settings it came from and each stage's seconds
          encoding/                 Arrow cache while a split is encoded; removed after

    Everything is written into the `.partial` sibling, renamed to the key once complete:
    a directory with `prepare.json` is a finished preparation. `<key>.lock` beside it is
    held while it is written (seq2seq/data/locks.py).
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def spm(self) -> Path:
        """The folder holding src.model and tgt.model (as `RunDir.spm`): `Tokenizer.load`'s."""
        return self.root

    @property
    def src_model(self) -> Path:
        return self.spm / "src.model"

    @property
    def tgt_model(self) -> Path:
        return self.spm / "tgt.model"

    @property
    def train(self) -> Path:
        return self.root / "train"

    @property
    def dev(self) -> Path:
        return self.root / "dev"

    @property
    def dev_src(self) -> Path:
        return self.root / "dev.src"

    @property
    def dev_ref(self) -> Path:
        return self.root / "dev.ref"

    @property
    def test_src(self) -> Path:
        return self.root / "test.src"

    @property
    def test_ref(self) -> Path:
        return self.root / "test.ref"

    def extra_test_ref(self, n: int) -> Path:
        """The reference in data.extra_ref_langs[n - 1] (n from 1; `test_ref` is the first)."""
        return self.root / f"test.ref.{n}"

    def refs(self, split: str) -> Path:
        """task=captioning: the references of each `split` image, a JSON list a line."""
        return self.root / f"{split}.refs.jsonl"

    @property
    def labels(self) -> Path:
        """task=classification: the label set, one a line; line i names label id i."""
        return self.root / "labels.txt"

    @property
    def settings(self) -> Path:
        return self.root / "prepare.json"

    @property
    def encoding(self) -> Path:
        return self.root / "encoding"

    @property
    def partial(self) -> "PreparedDir":
        """The sibling a preparation is written into before it is renamed to `root`."""
        return PreparedDir(self.root.with_name(self.root.name + ".partial"))

    @property
    def lock(self) -> Path:
        """Held while the preparation is written: another process on the same key waits."""
        return self.root.with_name(self.root.name + ".lock")
