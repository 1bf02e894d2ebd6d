"""Range and consistency checks that types alone cannot express: each fails with one line
naming its key (`ConfigError`). `validate` runs them all when a config is composed;
`check_decode` the decode settings alone (seq2seq-translate's options change them).

The checks of a task and of a model part are theirs: the task's `checks(cfg)`, and a
builder's `checks(model_cfg)` attribute if it has one. Whether the parts fit the task is
what they say of themselves: an encoder builder's `reads` (default "text") must be one of
the task's `reads`, a decoder builder's `writes` (default "text") its `writes`; so a part
or a task from outside the package validates without a change here.
"""
from __future__ import annotations

import importlib
from typing import Callable, Optional

from seq2seq.config.schema import (DECODE_PRECISIONS, TRAIN_PRECISIONS, ConfigError, DecodeConfig,
                            TrainConfig)
from seq2seq.tasks import task_class


def validate(cfg: TrainConfig) -> None:
    """Range checks that types alone cannot express, each failing with one line naming
    its key."""
    o, t, d, k = cfg.optim, cfg.trainer, cfg.data, cfg.tokenizer
    checks = [
        ("optim.lr", o.lr > 0, "must be > 0"),
        ("optim.clip_norm", o.clip_norm > 0, "must be > 0"),
        ("optim.halve_every", o.halve_every > 0, "must be > 0"),
        ("optim.halve_after", o.halve_after >= 0, "must be >= 0"),
        ("optim.epochs", o.epochs > 0, "must be > 0"),
        ("optim.schedule_over", o.schedule_over in ("epochs", "budget"), "epochs | budget"),
        ("optim.loss_per", o.loss_per in ("sentence", "token"), "sentence | token"),
        ("optim.name", o.name in ("sgd", "adam"), "sgd | adam"),
        ("optim.label_smoothing", 0 <= o.label_smoothing < 1, "must be in [0, 1)"),
        ("trainer.max_steps", t.max_steps is None or t.max_steps >= 1, "must be >= 1"),
        ("trainer.save_every", t.save_every is None or t.save_every >= 1, "must be >= 1"),
        ("trainer.keep_checkpoints", t.keep_checkpoints >= 0, "must be >= 0"),
        ("trainer.on_nonfinite", t.on_nonfinite in ("error", "skip"), "error | skip"),
        ("trainer.max_time", t.max_time is None or t.max_time > 0, "must be > 0"),
        ("trainer.patience", t.patience is None or t.patience >= 1, "must be >= 1"),
        ("trainer.min_delta", t.min_delta >= 0, "must be >= 0"),
        ("trainer.max_tokens", t.max_tokens >= 1, "must be >= 1"),
        ("trainer.max_sentences", t.max_sentences >= 1, "must be >= 1"),
        ("trainer.device", t.device in ("auto", "cpu", "cuda"), "auto | cpu | cuda"),
        ("trainer.precision", t.precision in TRAIN_PRECISIONS, " | ".join(TRAIN_PRECISIONS)),
        ("data.on_bad_line", d.on_bad_line in ("error", "skip"), "error | skip"),
        ("data.max_len", d.max_len >= 1, "must be >= 1"),
        ("data", (d.local_dir is None) != (d.hub_path is None),
         "set exactly one of data.local_dir and data.hub_path"),
        ("tokenizer.src_vocab_size", k.src_vocab_size >= 5, "must be >= 5"),
        ("tokenizer.tgt_vocab_size", k.tgt_vocab_size >= 5, "must be >= 5"),
        ("tokenizer.model_type", k.model_type in ("unigram", "bpe", "char", "word"),
         "unigram | bpe | char | word"),
    ]
    task = task_class(cfg.task)
    _fail_first(checks + _model_checks(cfg) + _fit_checks(cfg, task) + task.checks(cfg)
                + _decode_checks(cfg.decode))


def _model_checks(cfg: TrainConfig) -> list[tuple[str, bool, str]]:
    m, enc, dec = cfg.model, cfg.model.encoder, cfg.model.decoder
    encoder, decoder = find_builder(enc.build), find_builder(dec.build)
    checks = [
        ("model.dropout", 0 <= m.dropout < 1, "must be in [0, 1)"),
        ("model.layers", m.layers >= 1, "must be >= 1"),
        ("model.hidden_dim", m.hidden_dim >= 1, "must be >= 1"),
        ("model.emb_dim", m.emb_dim >= 1, "must be >= 1"),
        ("model.init_range", m.init_range > 0, "must be > 0"),
        ("model.cell", m.cell in ("lstm", "gru"), "lstm | gru"),
        ("model.encoder.build", encoder is not None, "not an importable function"),
        ("model.decoder.build", decoder is not None, "not an importable function"),
        ("model.encoder.hidden_dim", enc.hidden_dim is None or (
            enc.hidden_dim >= 1 and (enc.bidirectional or enc.hidden_dim == m.hidden_dim)),
         "must be >= 1, and differ from model.hidden_dim only when bidirectional"),
        ("model.decoder.attention", dec.attention in ("none", "dot", "general"),
         "none | dot | general"),
        ("model.decoder.input_feeding", not dec.input_feeding or dec.attention != "none",
         "needs model.decoder.attention dot or general"),
        ("model.decoder.attention", dec.attention == "none" or _reads(encoder) != "nothing",
         "none without an encoder: model/encoder=none has no states to attend to"),
    ]
    for part in (encoder, decoder):  # each part checks its own keys
        checks += getattr(part, "checks", lambda model: [])(m)
    return checks


def _fit_checks(cfg: TrainConfig, task: type) -> list[tuple[str, bool, str]]:
    """The parts read what the task gives them and write what it scores."""
    enc, dec = cfg.model.encoder, cfg.model.decoder
    reads = _reads(find_builder(enc.build))
    writes = getattr(find_builder(dec.build), "writes", "text")
    return [
        ("model.encoder.build", reads in task.reads,
         task.parts or f"{enc.build} reads {reads}; task={cfg.task} gives "
                       f"{' or '.join(task.reads)}"),
        ("model.decoder.build", writes == task.writes,
         task.parts or f"{dec.build} writes {writes}; task={cfg.task} needs {task.writes}"),
    ]


def _reads(encoder: Optional[Callable]) -> str:
    return getattr(encoder, "reads", "text")


def check_decode(d: DecodeConfig) -> None:
    """The decode settings alone (seq2seq-translate's options change them)."""
    _fail_first(_decode_checks(d))


def _decode_checks(d: DecodeConfig) -> list[tuple[str, bool, str]]:
    return [
        ("decode.batch_size", d.batch_size >= 1, "must be >= 1"),
        ("decode.max_len_a", d.max_len_a >= 0, "must be >= 0"),
        ("decode.max_len_b", d.max_len_b >= 1, "must be >= 1"),
        ("decode.max_len", d.max_len is None or d.max_len >= 1, "must be >= 1"),
        ("decode.beam_size", d.beam_size >= 1, "must be >= 1"),
        ("decode.nbest", 1 <= d.nbest <= d.beam_size, "must be in [1, beam_size]"),
        ("decode.precision", d.precision in DECODE_PRECISIONS, " | ".join(DECODE_PRECISIONS)),
    ]


def _fail_first(checks: list[tuple[str, bool, str]]) -> None:
    for key, ok, why in checks:
        if not ok:
            raise ConfigError(f"config key '{key}': {why}")


def find_builder(path: str) -> Optional[Callable]:
    """The function `package.module.function` names, or None if it cannot be imported."""
    module, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return found if callable(found) else None
