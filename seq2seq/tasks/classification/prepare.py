"""Preparing labelled text (task=classification): texts -> `datasets` ->
sentencepiece ids + label ids.

    local files  <dir>/<split>.tsv|.csv|.jsonl, <dir>/<split>/<label>/*.txt (labelled.py) --+
                                                                                            +->
    hub dataset  a text column and a label column (imdb; glue sst2) ------------------------+
        Dataset{where, src, label} (Arrow cache) --> the label set: training's, sorted
              --> dev and test checked against it --> sentencepiece ids + label ids on disk

It fills the same `PreparedDir` as translation: `src.model` (and the same file as
`tgt.model`), `train/` and `dev/` as labelled token arrays (tokens.LabelledArrays),
`labels.txt`, and texts with their labels in dev.src/dev.ref and test.src/test.ref, which
`seq2seq-classify` and `seq2seq-score --task classification` read. With `model.init_from`, the
language model's sentencepiece model is taken instead of training one: its embeddings
are only meaningful over its own pieces.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
import logging
import shutil
from pathlib import Path
from typing import Iterator, Optional

import datasets
from datasets.exceptions import DatasetGenerationError
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seq2seq.config.compose import REPO_ROOT, DataConfig, TrainConfig
from seq2seq.data.corpus import hub_split
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.textfile import file_stamp
from seq2seq.data.tokenizer import Tokenizer, source_pieces, train_spm
from seq2seq.data.tokens import id_dtype, write_labelled
from seq2seq.tasks.classification.labelled import (find_labelled, folder_files, label_order,
                                                   read_labelled, write_labels)

log = logging.getLogger(__name__)


@dataclass
class LabelledDataConfig(DataConfig):
    """Labelled text: f"{local_dir}/{split}.tsv|.csv|.jsonl" (plain or .xz) or the folders
    f"{local_dir}/{split}/<label>/*.txt" (aclImdb), or a hub dataset (imdb; glue with
    hub_name=sst2 and text_column=sentence)."""
    text_column: str = "text"  # the column of the texts,
    label_column: str = "label"  # and of their labels (names, or integers as written)


COLUMNS = datasets.Features({k: datasets.Value("string") for k in ("where", "src", "label")})


def labelled_files(cfg: DataConfig) -> list[Path]:
    """The local files (or label folders) the three splits are read from."""
    if cfg.local_dir is None:
        return []
    return [find_labelled(_local_dir(cfg.local_dir), s)
            for s in (cfg.train_split, cfg.dev_split, cfg.test_split)]


def labelled_stamp(cfg: TrainConfig) -> str:
    """Sizes and mtimes of every file read, and of the language model's vocabulary taken."""
    files = [f for path in labelled_files(cfg.data)
             for f in (folder_files(path) if path.is_dir() else [path])]
    spm = lm_spm(cfg.model.init_from)
    stamp = file_stamp(files + ([spm] if spm is not None else []))
    return hashlib.sha1(stamp.encode()).hexdigest()  # aclImdb: 50,000 files


def lm_spm(init_from: Optional[str]) -> Optional[Path]:
    """The sentencepiece model a language model's run reads (its target side's)."""
    if init_from is None:
        return None
    path = Path(init_from) / "spm" / "tgt.model"
    if not path.is_file():
        raise FileNotFoundError(f"model.init_from: {path}: no such file (not a run directory?)")
    return path


def _local_dir(directory: str) -> Path:
    """A relative dir may also be the repo's own (data/sentiment-movies)."""
    path, own = Path(directory), REPO_ROOT / directory
    return own if not path.is_dir() and own.is_dir() else path


# ---------------------------------------------------------------- loading
def load_labelled_split(cfg: DataConfig, split: str,
                        limit: Optional[int] = None) -> datasets.Dataset:
    """A split as Dataset{where, src, label} (label as written, or a ClassLabel's name);
    `where` names the file and line, or the hub dataset's row, for errors."""
    ds = _load_local(cfg, split) if cfg.local_dir is not None else _load_hub(cfg, split)
    if len(ds) == 0:
        raise ValueError(f"{cfg.local_dir or cfg.hub_path}: split '{split}' has no examples")
    if limit is not None and limit < len(ds):
        # drawn at random: folders and hub datasets are ordered by label
        # (flattened: the label columns are read from the Arrow table itself)
        ds = ds.shuffle(seed=0).select(range(limit)).flatten_indices()
    return ds


def _examples(path: str, text_column: str, label_column: str,
              stamp: str) -> Iterator[dict]:
    # `stamp` (sizes and mtimes) is unused here: it is part of the Arrow cache key.
    for where, text, label in read_labelled(Path(path), text_column, label_column):
        yield {"where": where, "src": text, "label": label}


def _load_local(cfg: DataConfig, split: str) -> datasets.Dataset:
    path = find_labelled(_local_dir(cfg.local_dir), split)
    files = folder_files(path) if path.is_dir() else [path]
    try:
        return datasets.Dataset.from_generator(_examples, features=COLUMNS, gen_kwargs={
            "path": str(path.resolve()), "text_column": cfg.text_column,
            "label_column": cfg.label_column,
            "stamp": hashlib.sha1(file_stamp(files).encode()).hexdigest()})
    except DatasetGenerationError as exc:  # datasets wraps our one-line error: unwrap it
        if isinstance(exc.__cause__, (ValueError, OSError)):
            raise exc.__cause__ from None
        raise
    except ValueError as exc:  # "Instruction 'train' corresponds to no data!"
        if "no data" in str(exc):
            raise ValueError(f"{path}: no examples") from None
        raise


def _load_hub(cfg: DataConfig, split: str) -> datasets.Dataset:
    ds, name = hub_split(cfg.hub_path, cfg.hub_name, split,
                         {"data.text_column": cfg.text_column,
                          "data.label_column": cfg.label_column})
    feature = ds.features[cfg.label_column]
    names = feature.names if isinstance(feature, datasets.ClassLabel) else None

    def _row(ex: dict, i: int) -> dict:
        label = ex[cfg.label_column]
        if label is None or names is not None and not 0 <= label < len(names):
            raise ValueError(f"{name} row {i}: no label ({label}: this split's labels are "
                             "hidden; train, and pick best.pt, on labelled splits)")
        label = names[label] if names is not None else label
        text = ex[cfg.text_column]
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name} row {i}: empty text in '{cfg.text_column}'")
        return {"where": f"{name} row {i}", "src": " ".join(text.split()),
                "label": str(label)}
    return ds.map(_row, with_indices=True, remove_columns=ds.column_names, features=COLUMNS)


# ---------------------------------------------------------------- labels
def label_set(train: datasets.Dataset) -> list[str]:
    """The training split's labels, sorted (numbers by value: "2" before "10")."""
    return label_order(pc.unique(train.data.column("label")).to_pylist())


def label_ids(ds: datasets.Dataset, labels: list[str]) -> np.ndarray:
    """Each text's label as its index in `labels`; a label training never saw stops with
    one line naming where it is."""
    column = ds.data.column("label")
    ids = pc.index_in(column, value_set=pa.array(labels, pa.string())).to_numpy(
        zero_copy_only=False)
    unknown = np.flatnonzero(np.isnan(ids) if ids.dtype.kind == "f" else ids < 0)
    if len(unknown):
        i = int(unknown[0])
        raise ValueError(f"{ds[i]['where']}: label {column[i].as_py()!r} is not one of the "
                         f"training labels ({', '.join(labels)})")
    return ids.astype(np.int32)


# ---------------------------------------------------------------- the preparation
def prepare_labelled(cfg: TrainConfig, out: PreparedDir, spm_from: Optional[Path]) -> None:
    """Writes a classifier's preparation into `out` (the caller renames it when complete).
    `spm_from`: a sentencepiece model to take instead of training one."""
    d = cfg.data
    splits = {"train": load_labelled_split(d, d.train_split, d.max_train_sentences),
              "dev": load_labelled_split(d, d.dev_split),
              "test": load_labelled_split(d, d.test_split)}
    labels = label_set(splits["train"])
    ids = {name: label_ids(ds, labels) for name, ds in splits.items()}
    write_labels(out.labels, labels)
    log.info("labels: %s", ", ".join(f"{label} {int((ids['train'] == i).sum())}"
                                     for i, label in enumerate(labels)))
    tok = _tokenizer(cfg, splits["train"], out, spm_from)
    for name, src, ref in (("dev", out.dev_src, out.dev_ref), ("test", out.test_src,
                                                               out.test_ref)):
        src.write_text("".join(s + "\n" for s in splits[name]["src"]), encoding="utf-8")
        ref.write_text("".join(labels[i] + "\n" for i in ids[name]), encoding="utf-8")
    for name, folder, max_len in (("train", out.train, d.max_len), ("dev", out.dev, None)):
        _write(splits[name], ids[name], tok, folder, max_len)


def _tokenizer(cfg: TrainConfig, train: datasets.Dataset, out: PreparedDir,
               spm_from: Optional[Path]) -> Tokenizer:
    if spm_from is not None:
        shutil.copy(spm_from, out.src_model)
    else:
        t = cfg.tokenizer
        train_spm((s for b in train.select_columns(["src"]).iter(batch_size=10_000)
                   for s in b["src"]), out.src_model.with_suffix(""),
                  vocab_size=t.src_vocab_size, model_type=t.model_type,
                  character_coverage=t.character_coverage,
                  input_sentence_size=t.input_sentence_size, seed=t.seed)
    shutil.copy(out.src_model, out.tgt_model)  # Tokenizer.load reads both; nothing is written
    return Tokenizer.load(out.spm, reverse_source=cfg.model.reverse_source)


def _write(ds: datasets.Dataset, ids: np.ndarray, tok: Tokenizer, folder: Path,
           max_len: Optional[int]) -> None:
    """Encodes the texts and writes them with their label ids. A training text over
    `max_len` pieces keeps its first `max_len` (counted): a long review is still a review
    (IMDB's run to 2,500 words), so it is cut, not dropped. Dev keeps every text whole."""
    def chunks() -> Iterator[tuple[pa.ListArray, pa.Array]]:
        cut = 0
        for start in range(0, len(ds), 10_000):
            src = tok.encode_source(ds[start: start + 10_000]["src"])
            if max_len is not None:
                cut += sum(source_pieces(len(s)) > max_len for s in src)
                src = [_first_pieces(s, max_len, tok.reverse_source) for s in src]
            yield pa.array(src, pa.list_(pa.int32())), pa.array(ids[start: start + len(src)])
        if max_len is not None:
            log.info("%s: %d of %d texts cut to their first %d pieces", folder.name, cut,
                     len(ds), max_len)
    write_labelled(folder, chunks(), id_dtype(tok.src_vocab_size))


def _first_pieces(ids: list[int], max_len: int, reversed_: bool) -> list[int]:
    """An encoded source (pieces, maybe reversed, then eos) cut to the text's first
    `max_len` pieces; a reversed source holds them at its end."""
    pieces, eos = ids[:-1], ids[-1:]
    if len(pieces) <= max_len:
        return ids
    return (pieces[-max_len:] if reversed_ else pieces[:max_len]) + eos
