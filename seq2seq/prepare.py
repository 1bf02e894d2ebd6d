"""seq2seq-prepare: load a corpus, train sentencepiece, encode, filter; write it all to disk.

    seq2seq-prepare [data=...] [tokenizer=...] [key=value ...]

Training only reads what this writes (and runs it first if it has not been run): the files
of `<data.prepared_dir>/<key>/`, named and laid out in `seq2seq.prepared.PreparedDir`.

`<key>` is a hash of the settings and of the storage format, so different tokenisers or
reversal settings of one corpus live side by side, and neither a stale preparation nor one
in an older format is ever reused. At scale (tens of millions of pairs): sentencepiece
learns from a sample of `tokenizer.input_sentence_size` sentences, encoding runs in
`data.num_proc` processes, and no stage holds a whole column in memory.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Iterator

import datasets
import numpy as np

from seq2seq.cli import run as run_cli, wants_debug
from seq2seq.config import ConfigError, TrainConfig, cli_config
from seq2seq.data import encode, id_chunks, length_filter, load_split, local_files
from seq2seq.prepare_captions import caption_stamp, prepare_captioned
from seq2seq.prepare_labels import labelled_stamp, lm_spm, prepare_labelled
from seq2seq.prepared import PreparedDir
from seq2seq.report import wants_bar
from seq2seq.textfile import file_stamp
from seq2seq.tokenizer import Tokenizer, train_spm
from seq2seq.tokens import id_dtype, write_pairs

# Changes whenever what prepare writes changes: older preparations are rebuilt, not misread.
FORMAT = "flat-tokens-1"

log = logging.getLogger(__name__)


def prepared_path(cfg: TrainConfig) -> Path:
    """Where the preparation for these data/tokenizer/reversal settings lives."""
    settings = _settings(cfg)
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return Path(cfg.data.prepared_dir) / key


def _settings(cfg: TrainConfig) -> dict:
    data = dataclasses.asdict(cfg.data)
    del data["num_proc"]  # how many processes encode changes nothing in the result
    if cfg.task != "caption":  # keys that came with captioning leave other keys as they were
        for key in ("caption_format", "caption_columns", "image_root", "image_height",
                    "image_width", "image_channels", "augment_shift"):
            del data[key]
    else:  # augmentation happens in training: one preparation serves every shift
        del data["augment_shift"]
    common = {"format": FORMAT, "tokenizer": dataclasses.asdict(cfg.tokenizer),
              "reverse_source": cfg.model.reverse_source}
    if cfg.task == "classify":  # labelled text, perhaps a language model's vocabulary
        return {**common, "task": "classify", "data": data, "files": labelled_stamp(cfg)}
    if cfg.task == "caption":  # images and their captions
        return {**common, "task": "caption", "data": data, "files": caption_stamp(cfg.data)}
    # A language model shares its corpus's preparation (and vocabulary) with translation.
    del data["text_column"], data["label_column"]
    return {**common, "data": data, "files": file_stamp(local_files(cfg.data))}


def prepare(cfg: TrainConfig) -> PreparedDir:
    """Prepare once; later calls with the same settings return the existing directory."""
    _check_prepared_dir(Path(cfg.data.prepared_dir))
    out = PreparedDir(prepared_path(cfg))
    if out.settings.is_file():  # written last: its presence means the rest is complete
        log.info("prepared data: %s (reused)", out.root)
        return out
    tmp = out.partial
    shutil.rmtree(tmp.root, ignore_errors=True)
    tmp.root.mkdir(parents=True)
    clock = _Clock()
    if cfg.task == "classify":
        prepare_labelled(cfg, tmp, lm_spm(cfg.model.init_from))
        clock.done("labelled text")
    elif cfg.task == "caption":
        prepare_captioned(cfg, tmp)
        clock.done("captioned images")
    else:
        _prepare_pairs(cfg, tmp, clock)
    record = {**_settings(cfg), "seconds": clock.seconds}  # the stages' times, for the record
    tmp.settings.write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(out.root, ignore_errors=True)
    tmp.root.rename(out.root)  # complete or absent, never half written
    log.info("prepared data: %s", out.root)
    return out


def _check_prepared_dir(path: Path) -> None:
    """The nearest part of `path` that exists is a directory: under a file, making the
    preparation's folders would fail with an errno naming a path but not the config key."""
    for folder in (path, *path.parents):
        if folder.is_dir():
            return
        if folder.exists() or folder.is_symlink():  # a file, or a link to nowhere
            raise ConfigError(f"config key 'data.prepared_dir': {folder} is a file, not a "
                              "directory")


def _prepare_pairs(cfg: TrainConfig, tmp: PreparedDir, clock: "_Clock") -> None:
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


class _Clock:
    """Seconds each stage of a preparation took, logged as it ends."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.last = time.monotonic()

    def done(self, stage: str) -> None:
        now = time.monotonic()
        self.seconds[stage] = round(now - self.last, 2)
        log.info("%s: %.1f s", stage, now - self.last)
        self.last = now


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


def _sample(ds: datasets.Dataset, column: str, size: int, seed: int) -> Iterator[str]:
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
        both = itertools.chain(_sample(train, "src", size // 2, t.seed),
                               _sample(train, "tgt", size - size // 2, t.seed))
        train_spm(both, src, vocab_size=t.src_vocab_size, **common)
        shutil.copy(out.src_model, out.tgt_model)
    else:
        train_spm(_sample(train, "src", size, t.seed), src,
                  vocab_size=t.src_vocab_size, **common)
        train_spm(_sample(train, "tgt", size, t.seed), tgt,
                  vocab_size=t.tgt_vocab_size, **common)
    return Tokenizer.load(out.spm, reverse_source=cfg.model.reverse_source)


def main(argv: list[str] | None = None) -> None:
    argv, debug = wants_debug(sys.argv[1:] if argv is None else argv)
    if not wants_bar():  # on a terminal, datasets shows the sentences done at each stage
        datasets.disable_progress_bars()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = cli_config(argv, "seq2seq-prepare")
    run_cli("seq2seq-prepare", lambda: print(prepare(cfg).root), debug)


if __name__ == "__main__":
    main()
