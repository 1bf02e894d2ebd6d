"""Preparing task=captioning (seq2seq-prepare's): captioned images (or videos) -> arrays.

    data.local_dir (imagefolder | karpathy | flickr: seq2seq/tasks/captioning/records.py)
      -> records (a file, its references) per split
      -> sentencepiece on every training caption (written as src.model and tgt.model: a
         run's tokenizer has both; nothing is written on the source side)
      -> train/ dev/: every image resized to data.image_height x data.image_width, uint8,
         with the ids of each of its captions (seq2seq/tasks/captioning/arrays.py)
      -> dev.src test.src (image paths), dev.ref test.ref (first reference),
         dev.refs.jsonl test.refs.jsonl (all references): for seq2seq-caption and scoring

Training uses each (image, caption) pair; evaluation captions each image once against
all its references. Images are read one at a time: nothing holds a split in memory.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np

from seq2seq.config.compose import DataConfig, TrainConfig
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.textfile import file_stamp
from seq2seq.data.tokenizer import Tokenizer, train_spm
from seq2seq.data.tokens import id_dtype
from seq2seq.tasks.captioning.arrays import write_captioned
from seq2seq.tasks.captioning.images import is_video, load_frames, load_image
from seq2seq.tasks.captioning.records import CaptionRecord, read_records

log = logging.getLogger(__name__)


def caption_stamp(d: DataConfig) -> str:
    """Sizes and times of the files that list images and captions (not of every image)."""
    root = Path(d.local_dir)
    if root.is_file():
        return file_stamp([root])
    if not root.is_dir():
        raise FileNotFoundError(f"data.local_dir={d.local_dir}: no such directory")
    listed = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in
                    (".jsonl", ".json", ".txt", ".csv") and p.stat().st_size < 1 << 30)
    return file_stamp(listed)


def split_records(d: DataConfig) -> dict[str, list[CaptionRecord]]:
    """The train (first data.max_train_sentences images), dev and test records."""
    splits = {name: read_records(d.caption_format, d.local_dir, split, d.caption_columns,
                                 d.image_root)
              for name, split in (("train", d.train_split), ("dev", d.dev_split),
                                  ("test", d.test_split))}
    if d.max_train_sentences is not None:
        splits["train"] = splits["train"][: d.max_train_sentences]
    for name, records in splits.items():
        log.info("%s: %d images, %d captions", name, len(records),
                 sum(len(r.captions) for r in records))
    return splits


def prepare_captioned(cfg: TrainConfig, out: PreparedDir) -> None:
    """Writes a captioner's preparation into `out` (the caller renames it when complete)."""
    d = cfg.data
    splits = split_records(d)
    tok = _tokenizer(cfg, splits["train"], out)
    for name, records in splits.items():
        paths = (out.root / f"{name}.src", out.root / f"{name}.ref")
        if name != "train":
            paths[0].write_text("".join(f"{r.path.resolve()}\n" for r in records), "utf-8")
            paths[1].write_text("".join(f"{r.captions[0]}\n" for r in records), "utf-8")
            out.refs(name).write_text("".join(json.dumps(r.captions, ensure_ascii=False) + "\n"
                                              for r in records), "utf-8")
        if name == "test":
            continue
        shape = (max(frame_count(r.path) for r in records), d.image_channels, d.image_height,
                 d.image_width)  # (T, C, H, W)
        pairs = write_captioned(out.root / name, _images(records, d), shape,
                                (tok.encode_target(r.captions) for r in records),
                                id_dtype(tok.tgt_vocab_size))
        log.info("%s: %d (image, caption) pairs, images %s", name, pairs, "x".join(map(str, shape)))


def frame_count(path: Path) -> int:
    """Frames of a video (a .npy's first axis, a folder's files), 1 for an image."""
    if not is_video(path):
        return 1
    if path.is_dir():
        return sum(1 for p in path.iterdir() if p.is_file())
    return int(np.load(path, mmap_mode="r").shape[0])


def _images(records: list[CaptionRecord], d: DataConfig) -> Iterator[np.ndarray]:
    """Each record's frames, (T, C, H, W) uint8, resized: one image in memory at a time."""
    size = (d.image_height, d.image_width, d.image_channels)
    for r in records:
        yield load_frames(r.path, *size) if is_video(r.path) else load_image(r.path, *size)[None]


def _tokenizer(cfg: TrainConfig, train: list[CaptionRecord], out: PreparedDir) -> Tokenizer:
    t = cfg.tokenizer
    train_spm((c for r in train for c in r.captions), out.tgt_model.with_suffix(""),
              vocab_size=t.tgt_vocab_size, model_type=t.model_type,
              character_coverage=t.character_coverage,
              input_sentence_size=t.input_sentence_size, seed=t.seed)
    shutil.copy(out.tgt_model, out.src_model)  # Tokenizer.load reads both
    return Tokenizer.load(out.spm, reverse_source=False)
