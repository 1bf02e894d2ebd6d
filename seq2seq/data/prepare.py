"""The preparation driver behind seq2seq-prepare (seq2seq/cli/prepare.py): load a corpus,
train sentencepiece, encode, filter; write it all to disk.

    seq2seq-prepare [data=...] [tokenizer=...] [key=value ...]

Training only reads what this writes (and runs it first if it has not been run): the files
of `<data.prepared_dir>/<key>/`, named and laid out in `seq2seq.data.prepared.PreparedDir`.

`<key>` is a hash of the settings and of the storage format, so different tokenisers or
reversal settings of one corpus live side by side, and neither a stale preparation nor one
in an older format is ever reused. At scale (tens of millions of pairs): sentencepiece
learns from a sample of `tokenizer.input_sentence_size` sentences, encoding runs in
`data.num_proc` processes, and no stage holds a whole column in memory.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
from pathlib import Path


from seq2seq.config.compose import ConfigError, TrainConfig
from seq2seq.data.locks import locked
from seq2seq.data.prepared import PreparedDir
from seq2seq.tasks import task_class

# Changes whenever what prepare writes changes: older preparations are rebuilt, not misread.
FORMAT = "flat-tokens-1"

log = logging.getLogger(__name__)


def prepared_path(cfg: TrainConfig) -> Path:
    """Where the preparation for these data/tokenizer/reversal settings lives."""
    settings = _settings(cfg)
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return Path(cfg.data.prepared_dir) / key


def _settings(cfg: TrainConfig) -> dict:
    """The format, the tokenizer, the reversal and what the task keys its preparation on."""
    common = {"format": FORMAT, "tokenizer": dataclasses.asdict(cfg.tokenizer),
              "reverse_source": cfg.model.reverse_source}
    return {**common, **task_class(cfg.task).preparation(cfg)}


def prepare(cfg: TrainConfig) -> PreparedDir:
    """Prepare once; later calls with the same settings return the existing directory."""
    _check_prepared_dir(Path(cfg.data.prepared_dir))
    out = PreparedDir(prepared_path(cfg))
    # settings.json is written last: its presence means the rest is complete. Reusing takes
    # no lock (prepared data may be read-only); preparing does, and a second process that
    # starts on the same key meanwhile waits for the first, then reuses what it wrote.
    if not out.settings.is_file():
        with locked(out.lock):
            if not out.settings.is_file():
                _prepare(cfg, out)
                log.info("prepared data: %s", out.root)
                return out
    log.info("prepared data: %s (reused)", out.root)
    return out


def _prepare(cfg: TrainConfig, out: PreparedDir) -> None:
    tmp = out.partial
    shutil.rmtree(tmp.root, ignore_errors=True)
    tmp.root.mkdir(parents=True)
    clock = Clock()
    task_class(cfg.task).prepare(cfg, tmp, clock)
    record = {**_settings(cfg), "seconds": clock.seconds}  # the stages' times, for the record
    tmp.settings.write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(out.root, ignore_errors=True)
    tmp.root.rename(out.root)  # complete or absent, never half written


def _check_prepared_dir(path: Path) -> None:
    """The nearest part of `path` that exists is a directory: under a file, making the
    preparation's folders would fail with an errno naming a path but not the config key."""
    for folder in (path, *path.parents):
        if folder.is_dir():
            return
        if folder.exists() or folder.is_symlink():  # a file, or a link to nowhere
            raise ConfigError(f"config key 'data.prepared_dir': {folder} is a file, not a "
                              "directory")


class Clock:
    """Seconds each stage of a preparation took, logged as it ends (a task's `prepare` calls
    `done` after each of its stages)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.last = time.monotonic()

    def done(self, stage: str) -> None:
        now = time.monotonic()
        self.seconds[stage] = round(now - self.last, 2)
        log.info("%s: %.1f s", stage, now - self.last)
        self.last = now
