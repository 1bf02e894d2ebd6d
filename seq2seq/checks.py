"""Range and consistency checks that types alone cannot express: each fails with one line
naming its key (`ConfigError`). `validate` runs them all when a config is composed;
`check_decode` the decode settings alone (seq2seq-translate's options change them).
"""
from __future__ import annotations

import importlib

from seq2seq.schema import (BACKBONES, CAPTION_FORMATS, CLASSIFIER_HEAD, DECODE_PRECISIONS,
                            FRAME_ENCODER, IMAGE_ENCODER, IMAGE_FEEDS, NO_ENCODER, POOLINGS,
                            TASKS, TRAIN_PRECISIONS, ConfigError, DecodeConfig, TrainConfig)


def validate(cfg: TrainConfig) -> None:
    """Range checks that types alone cannot express, each failing with one line naming
    its key."""
    o, t, d, k = cfg.optim, cfg.trainer, cfg.data, cfg.tokenizer
    checks = [
        ("task", cfg.task in TASKS, " | ".join(TASKS)),
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
    _fail_first(checks + _model_checks(cfg) + _classify_checks(cfg) + _caption_checks(cfg)
                + _decode_checks(cfg.decode))


def _model_checks(cfg: TrainConfig) -> list[tuple[str, bool, str]]:
    m, enc, dec = cfg.model, cfg.model.encoder, cfg.model.decoder
    return [
        ("model.dropout", 0 <= m.dropout < 1, "must be in [0, 1)"),
        ("model.layers", m.layers >= 1, "must be >= 1"),
        ("model.hidden_dim", m.hidden_dim >= 1, "must be >= 1"),
        ("model.emb_dim", m.emb_dim >= 1, "must be >= 1"),
        ("model.init_range", m.init_range > 0, "must be > 0"),
        ("model.cell", m.cell in ("lstm", "gru"), "lstm | gru"),
        ("model.encoder.build", _importable(enc.build), "not an importable function"),
        ("model.decoder.build", _importable(dec.build), "not an importable function"),
        ("model.encoder.hidden_dim", enc.hidden_dim is None or (
            enc.hidden_dim >= 1 and (enc.bidirectional or enc.hidden_dim == m.hidden_dim)),
         "must be >= 1, and differ from model.hidden_dim only when bidirectional"),
        ("model.decoder.attention", dec.attention in ("none", "dot", "general"),
         "none | dot | general"),
        ("model.decoder.input_feeding", not dec.input_feeding or dec.attention != "none",
         "needs model.decoder.attention dot or general"),
        ("model.decoder.attention", dec.attention == "none" or enc.build != NO_ENCODER,
         "none without an encoder: model/encoder=none has no states to attend to"),
        ("model.encoder.build", (cfg.task == "language_model") == (enc.build == NO_ENCODER),
         "a language model, and only it, reads no source: task=language_model goes with "
         "model/encoder=none"),
    ]


def _classify_checks(cfg: TrainConfig) -> list[tuple[str, bool, str]]:
    m, classify = cfg.model, cfg.task == "classify"
    return [
        ("model.decoder.pooling", m.decoder.pooling in POOLINGS, " | ".join(POOLINGS)),
        ("model.decoder.build", classify == (m.decoder.build == CLASSIFIER_HEAD),
         "a classifier, and only it, ends in a classifier head: task=classify goes with "
         "model/decoder=classifier"),
        ("model.decoder.attention", not classify or m.decoder.attention == "none",
         "none: a classifier's head pools the encoder's states (model.decoder.pooling)"),
        ("data.on_bad_line", not classify or cfg.data.on_bad_line == "error",
         "error: a classifier's data is read whole (a bad line stops it, named)"),
        ("model.init_from", m.init_from is None or classify,
         "only task=classify starts from a language model's run"),
        ("model.init_from", m.init_from is None or not m.encoder.bidirectional,
         "a language model reads one way: use a one-way encoder (model/encoder=rnn)"),
        ("model.init_from", m.init_from is None or not m.reverse_source,
         "a language model reads forwards: set model.reverse_source=false"),
    ]


def _caption_checks(cfg: TrainConfig) -> list[tuple[str, bool, str]]:
    d, enc, caption = cfg.data, cfg.model.encoder, cfg.task == "caption"
    vision = enc.build in (IMAGE_ENCODER, FRAME_ENCODER)
    return [
        ("model.encoder.build", caption == vision,
         "images are captioned, and only they: task=caption goes with model/encoder=image "
         "or model/encoder=frames"),
        ("data.caption_format", d.caption_format in CAPTION_FORMATS, " | ".join(CAPTION_FORMATS)),
        ("data.caption_columns", len(d.caption_columns) >= 1, "name at least one column"),
        ("data.image_channels", d.image_channels in (1, 3), "1 (grey) | 3 (RGB)"),
        ("data.image_height", d.image_height >= 1, "must be >= 1"),
        ("data.image_width", d.image_width >= 1, "must be >= 1"),
        ("data.hub_path", not caption or d.hub_path is None,
         "captioned images are read from data.local_dir (imagefolder, karpathy, flickr)"),
        ("model.encoder.backbone", enc.backbone in BACKBONES, " | ".join(BACKBONES)),
        ("model.encoder.image_feed", enc.image_feed in IMAGE_FEEDS, " | ".join(IMAGE_FEEDS)),
        ("model.encoder.cnn_blocks", enc.cnn_blocks >= 1, "must be >= 1"),
        ("model.encoder.cnn_width", enc.cnn_width >= 1, "must be >= 1"),
        ("model.encoder.weights", enc.weights is None or enc.backbone != "cnn",
         "pretrained weights are for backbone=resnet18 or resnet50"),
        ("data.augment_shift", d.augment_shift >= 0, "must be >= 0"),
        ("data.augment_shift", d.augment_shift == 0 or not enc.frozen,
         "0 with a frozen backbone: its grids are computed once, from the images as they are"),
        ("model.encoder.frozen", not enc.frozen or enc.backbone != "cnn",
         "only a pretrained backbone (resnet18, resnet50) is kept fixed"),
    ]


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


def _importable(path: str) -> bool:
    """`package.module.function` names a function that can be imported."""
    module, _, name = path.rpartition(".")
    try:
        return callable(getattr(importlib.import_module(module), name, None))
    except ImportError:
        return False
