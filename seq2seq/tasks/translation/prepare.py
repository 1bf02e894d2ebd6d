"""Preparing parallel text (translation's and the language model's): a corpus -> sentencepiece
models, raw dev/test text and train/dev token arrays in a `PreparedDir`.

    data.local_dir or data.hub_path (seq2seq/data/corpus.py) -> `datasets` splits
      -> sentencepiece on a sample of the training side(s) (tokenizer.*)
      -> dev.src dev.ref test.src test.ref (+ extra test references)
      -> train/ dev/: pairs of id arrays that pass the length filter (seq2seq/data/tokens.py)
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
from pathlib import Path
from typing import Iterator

import datasets
import numpy as np

from seq2seq.config.compose import TrainConfig
from seq2seq.data.corpus import encode, id_chunks, length_filter, load_split
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.tokenizer import Tokenizer, train_spm
from seq2seq.data.tokens import id_dtype, write_pairs


def prepare_pairs(cfg: TrainConfig, tmp: PreparedDir, clock) -> None:
    """Parallel text: sentencepiece models, raw dev/test text, train and dev token arrays."""
    d = cfg.data
    splits = {"train": load_split(d, d.train_split, d.max_train_sentences),
              "dev": load_split(d, d.dev_split), "test": load_split(d, d.test_split)}
    clock.done("load")
    tok = _train_tokenizer(cfg, splits["train"], tmp)
    clock.done("sentencepiece")
    for path, split, column in ((tmp.dev_src, "dev", "src"), (tmp.dev_ref, "dev", "tgt"),
                                (tmp.test_src, "test", "src"), (tmp.test_ref, "test", "tgt")):
        path.write_text("".join(s + "\n" for s in splits[split][column]))
    for i, lang in enumerate(d.extra_ref_langs, start=1):
        extra = dataclasses.replace(d, tgt_lang=lang)
        tmp.extra_test_ref(i).write_text(
            "".join(s + "\n" for s in load_split(extra, d.test_split)["tgt"]))
    # Dev perplexity is measured on every dev pair with two non-empty sides.
    for name, folder, max_len in (("train", tmp.train, d.max_len), ("dev", tmp.dev, 10**9)):
        _write_ids(splits[name], tok, folder, tmp.encoding, max_len, d.num_proc)
        clock.done(f"encode {name}")


def _write_ids(ds: datasets.Dataset, tok: Tokenizer, folder: Path, encoding: Path,
               max_len: int, num_proc: int | None) -> None:
    """Encodes a split and writes the pairs that pass the length filter as token arrays in
    `folder`, the encoded Arrow table cached in `encoding` meanwhile."""
    encoded = encode(ds, tok, num_proc=num_proc or os.cpu_count(),
                     cache_file=encoding / f"{folder.name}.arrow")
    keep = length_filter(encoded, max_len, folder.name)
    write_pairs(folder, id_chunks(encoded, keep),
                {"src": id_dtype(tok.src_vocab_size), "tgt": id_dtype(tok.tgt_vocab_size)})
    del encoded
    shutil.rmtree(encoding)


def sample_column(ds: datasets.Dataset, column: str, size: int, seed: int) -> Iterator[str]:
    """The column's sentences, or `size` of them drawn at random (in corpus order), streamed
    from the Arrow table rather than held as a list. A size of 0: all (as sentencepiece)."""
    if 0 < size < len(ds):
        rows = np.random.default_rng(seed).choice(len(ds), size, replace=False)
        ds = ds.select(np.sort(rows))
    for batch in ds.select_columns([column]).iter(batch_size=10_000):
        yield from batch[column]


def _train_tokenizer(cfg: TrainConfig, train: datasets.Dataset,
                     out: PreparedDir) -> Tokenizer:
    t = cfg.tokenizer
    common = dict(model_type=t.model_type, character_coverage=t.character_coverage,
                  input_sentence_size=t.input_sentence_size, seed=t.seed)
    size = t.input_sentence_size
    src, tgt = out.src_model.with_suffix(""), out.tgt_model.with_suffix("")  # train_spm adds .model
    if t.joint:  # half the sample from each side
        both = itertools.chain(sample_column(train, "src", size // 2, t.seed),
                               sample_column(train, "tgt", size - size // 2, t.seed))
        train_spm(both, src, vocab_size=t.src_vocab_size, **common)
        shutil.copy(out.src_model, out.tgt_model)
    else:
        train_spm(sample_column(train, "src", size, t.seed), src,
                  vocab_size=t.src_vocab_size, **common)
        train_spm(sample_column(train, "tgt", size, t.seed), tgt,
                  vocab_size=t.tgt_vocab_size, **common)
    return Tokenizer.load(out.spm, reverse_source=cfg.model.reverse_source)
