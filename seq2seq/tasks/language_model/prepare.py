"""Preparing one language's text alone (the language model's): its sentences -> a
sentencepiece model -> token arrays of one side, filtered and batched by their own length.

    data.local_dir: f"{split}.{tgt_lang}" (plain or .xz)  --+
                                                            +--> Dataset{tgt} (Arrow cache)
    data.hub_path: the tgt_lang side of a `translation` set --+        |
        sentencepiece on a sample of training sentences (written as tgt.model and, for the
        tokenizer that loads both, src.model) --> dev.ref test.ref --> train/ dev/ as
        single-sided token arrays (seq2seq/data/tokens.py: TextArrays)

Nothing of another language is read: a parallel corpus's other side neither filters nor
orders these sentences.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from seq2seq.config.compose import CorpusConfig, TrainConfig
from seq2seq.data.corpus import HUB_PAIRS, PARALLEL_FROM, find_text_file, generated
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.textfile import decoded_lines, file_stamp, read_lines
from seq2seq.data.tokenizer import Tokenizer, train_spm
from seq2seq.data.tokens import id_dtype, write_texts
from seq2seq.tasks.translation.prepare import sample_column

log = logging.getLogger(__name__)
IDS = datasets.Features({"tgt_ids": datasets.Sequence(datasets.Value("int32"))})


@dataclass
class TextConfig(CorpusConfig):
    """One language's sentences: f"{local_dir}/{split}.{tgt_lang}" (plain or .xz; one side of
    a parallel corpus, or a monolingual file), or that side of a hub `translation` dataset."""
    tgt_lang: str = "en"  # the language modelled (the file suffix, or the hub pair's key)


def text_files(d: TextConfig) -> list[Path]:
    """Every local file these settings read."""
    if d.local_dir is None:
        return []
    return [find_text_file(d.local_dir, s, d.tgt_lang)
            for s in (d.train_split, d.dev_split, d.test_split)]


def _lines(path: str, skip_bad: bool, stamp: str) -> Iterator[dict]:
    # `stamp` (size and mtime) is unused here: it is part of the Arrow cache key.
    if not skip_bad:
        yield from ({"tgt": line} for line in read_lines(Path(path)))
        return
    bad = []
    for n, line, _ in decoded_lines(Path(path)):
        if line is None:
            bad.append(n)
        else:
            yield {"tgt": line}
    if bad:
        log.warning("%s: skipped %d lines of invalid UTF-8 (first: line %d)", path, len(bad),
                    bad[0])


def load_texts(d: TextConfig, split: str, limit: Optional[int] = None) -> datasets.Dataset:
    """A split as Dataset{tgt}; a bad training line stops or is skipped (data.on_bad_line),
    dev and test are strict."""
    if d.local_dir is not None:
        path = find_text_file(d.local_dir, split, d.tgt_lang)
        skip_bad = d.on_bad_line == "skip" and split == d.train_split
        ds = generated(_lines, {"path": str(path.resolve()), "skip_bad": skip_bad,
                                "stamp": file_stamp([path])})
    else:
        ds = datasets.load_dataset(d.hub_path, d.hub_name, split=split)
        ds = ds.map(lambda ex: {"tgt": ex[HUB_PAIRS][d.tgt_lang]},
                    remove_columns=ds.column_names)
    return ds.select(range(min(limit, len(ds)))) if limit is not None else ds


def prepare_texts(cfg: TrainConfig, out: PreparedDir, clock) -> None:
    d, t = cfg.data, cfg.tokenizer
    splits = {"train": load_texts(d, d.train_split, d.max_train_sentences),
              "dev": load_texts(d, d.dev_split), "test": load_texts(d, d.test_split)}
    clock.done("load")
    train_spm(sample_column(splits["train"], "tgt", t.input_sentence_size, t.seed),
              out.tgt_model.with_suffix(""), vocab_size=t.tgt_vocab_size,
              model_type=t.model_type, character_coverage=t.character_coverage,
              input_sentence_size=t.input_sentence_size, seed=t.seed)
    shutil.copy(out.tgt_model, out.src_model)  # Tokenizer.load reads both; none reads src
    tok = Tokenizer.load(out.spm, reverse_source=False)
    clock.done("sentencepiece")
    for path, split in ((out.dev_ref, "dev"), (out.test_ref, "test")):
        path.write_text("".join(s + "\n" for s in splits[split]["tgt"]))
    # Dev perplexity is measured on every non-empty dev sentence.
    for name, folder, max_len in (("train", out.train, d.max_len), ("dev", out.dev, 10**9)):
        _write_ids(splits[name], tok, folder, max_len, d.num_proc or os.cpu_count())
        clock.done(f"encode {name}")


def _write_ids(ds: datasets.Dataset, tok: Tokenizer, folder: Path, max_len: int,
               num_proc: int) -> None:
    """The split's sentences as ids, those empty or over `max_len` pieces dropped (logged)."""
    encoded = ds.map(lambda batch: {"tgt_ids": tok.encode_target(batch["tgt"])},
                     batched=True, batch_size=2000, desc="sentencepiece",
                     remove_columns=ds.column_names, features=IDS, load_from_cache_file=False,
                     num_proc=num_proc if num_proc > 1 and len(ds) >= PARALLEL_FROM else None)
    lens = pc.list_value_length(encoded.data.column("tgt_ids")).to_numpy()
    keep = (lens > 0) & (lens <= max_len)
    log.info("%s: kept %d of %d sentences; dropped %d empty, %d over %d pieces", folder.name,
             keep.sum(), len(lens), (lens == 0).sum(), (lens > max_len).sum(), max_len)
    write_texts(folder, _kept(encoded, keep), id_dtype(tok.tgt_vocab_size))


def _kept(ds: datasets.Dataset, keep: np.ndarray) -> Iterator[pa.Array]:
    """The kept sentences' ids in Arrow chunks, in order, read zero-copy."""
    start = 0
    for rb in ds.data.table.to_batches(max_chunksize=100_000):
        yield pc.filter(rb.column("tgt_ids"), pa.array(keep[start: start + rb.num_rows]))
        start += rb.num_rows
