"""seq2seq-prepare: load a corpus, train sentencepiece, encode, filter; write it all to disk.

    seq2seq-prepare [data=...] [tokenizer=...] [key=value ...]

Training only reads what this writes (and runs it first if it has not been run):

    <data.prepared_dir>/<key>/   src.model tgt.model        sentencepiece models
                                 train/ dev/                encoded datasets (Arrow)
                                 dev.src dev.ref test.src test.ref[.N]  raw text
                                 prepare.json               the settings they came from

`<key>` is a hash of the settings, so different tokenisers or reversal settings of one
corpus live side by side and a stale preparation is never reused.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import sys
from pathlib import Path

import datasets

from seq2seq.cli import run as run_cli, wants_debug
from seq2seq.config import TrainConfig, cli_config
from seq2seq.data import encode, filter_by_length, load_split, local_files
from seq2seq.report import wants_bar
from seq2seq.textfile import file_stamp
from seq2seq.tokenizer import Tokenizer, load_spm, train_spm

log = logging.getLogger(__name__)


def prepared_path(cfg: TrainConfig) -> Path:
    """Where the preparation for these data/tokenizer/reversal settings lives."""
    settings = _settings(cfg)
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return Path(cfg.data.prepared_dir) / key


def _settings(cfg: TrainConfig) -> dict:
    return {"data": dataclasses.asdict(cfg.data), "tokenizer": dataclasses.asdict(cfg.tokenizer),
            "reverse_source": cfg.model.reverse_source,
            "files": file_stamp(local_files(cfg.data))}


def prepare(cfg: TrainConfig) -> Path:
    """Prepare once; later calls with the same settings return the existing directory."""
    out = prepared_path(cfg)
    if (out / "prepare.json").is_file():
        log.info("prepared data: %s (reused)", out)
        return out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    d = cfg.data
    splits = {"train": load_split(d, d.train_split, d.max_train_sentences),
              "dev": load_split(d, d.dev_split), "test": load_split(d, d.test_split)}
    tok = _train_tokenizer(cfg, splits["train"], tmp)
    for name in ("dev", "test"):
        (tmp / f"{name}.src").write_text("".join(s + "\n" for s in splits[name]["src"]))
        (tmp / f"{name}.ref").write_text("".join(s + "\n" for s in splits[name]["tgt"]))
    for i, lang in enumerate(d.extra_ref_langs, start=1):
        extra = dataclasses.replace(d, tgt_lang=lang)
        (tmp / f"test.ref.{i}").write_text(
            "".join(s + "\n" for s in load_split(extra, d.test_split)["tgt"]))
    train = filter_by_length(encode(splits["train"], tok), d.max_len, "train")
    # Dev perplexity is measured on every dev pair with two non-empty sides.
    dev = filter_by_length(encode(splits["dev"], tok), 10**9, "dev")
    train.save_to_disk(str(tmp / "train"))
    dev.save_to_disk(str(tmp / "dev"))
    (tmp / "prepare.json").write_text(json.dumps(_settings(cfg), indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # complete or absent, never half written
    log.info("prepared data: %s", out)
    return out


def _train_tokenizer(cfg: TrainConfig, train: datasets.Dataset, out: Path) -> Tokenizer:
    t = cfg.tokenizer
    common = dict(model_type=t.model_type, character_coverage=t.character_coverage,
                  input_sentence_size=t.input_sentence_size, seed=t.seed)
    if t.joint:
        src = train_spm(list(train["src"]) + list(train["tgt"]), out / "src",
                        vocab_size=t.src_vocab_size, **common)
        shutil.copy(src, out / "tgt.model")
    else:
        train_spm(train["src"], out / "src", vocab_size=t.src_vocab_size, **common)
        train_spm(train["tgt"], out / "tgt", vocab_size=t.tgt_vocab_size, **common)
    return Tokenizer(load_spm(out / "src.model"), load_spm(out / "tgt.model"),
                     reverse_source=cfg.model.reverse_source)


def main(argv: list[str] | None = None) -> None:
    argv, debug = wants_debug(sys.argv[1:] if argv is None else argv)
    if not wants_bar():  # on a terminal, datasets shows the sentences done at each stage
        datasets.disable_progress_bars()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = cli_config(argv, "seq2seq-prepare")
    run_cli("seq2seq-prepare", lambda: print(prepare(cfg)), debug)


if __name__ == "__main__":
    main()
