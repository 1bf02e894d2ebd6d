"""Typed config schemas, registered with Hydra's ConfigStore.

`conf/train.yaml` lists the schema first in its defaults, so every YAML file and every
command-line override is checked against these dataclasses: an unknown key or a value of
the wrong type fails when the config is composed, naming the key.

`load_config()` composes the config the way `seq2seq-train a=b` does and turns Hydra's
multi-line errors into a single line (`ConfigError`).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


@dataclass
class DataConfig:
    # Local parallel text: f"{local_dir}/{split}.{lang}" (plain or .xz), line N = line N.
    local_dir: Optional[str] = None
    # Or a hub dataset in the `translation` format, e.g. path=wmt/wmt14 name=fr-en.
    hub_path: Optional[str] = None
    hub_name: Optional[str] = None  # the hub dataset's configuration (a language pair)
    src_lang: str = "es"  # the language read (file suffix, or the hub pair's key)
    tgt_lang: str = "en"  # the language written
    train_split: str = "train"  # split names: file prefixes, or the hub dataset's splits
    dev_split: str = "dev"  # perplexity, BLEU and the best checkpoint are measured on it
    test_split: str = "test"  # prepared for translate and score; never seen in training
    # Extra references for the test split (files named f"{test_split}.{lang}").
    extra_ref_langs: list[str] = field(default_factory=list)
    # The first N training pairs: a slice for smoke runs, or the paper's 12M of WMT'14's 40.8M.
    max_train_sentences: Optional[int] = None
    max_len: int = 80  # training pairs longer than this (in pieces) are dropped, counted
    # A training line that is not valid UTF-8: stop naming file and line, or skip the pair
    # (counted in the log). Dev, test and translate input are always strict.
    on_bad_line: str = "error"  # error | skip
    prepared_dir: str = "data/prepared/${data.name}"  # where seq2seq-prepare writes
    num_proc: Optional[int] = None  # processes encoding the corpus (default: every core)
    name: str = "bible-es-en"  # names the prepared data folder


@dataclass
class TokenizerConfig:
    model_type: str = "unigram"  # unigram | bpe | word (the paper: word, with an unk piece)
    joint: bool = False  # one model for both sides, or one per side
    src_vocab_size: int = 8000  # pieces (the paper: 160k words)
    tgt_vocab_size: int = 8000  # pieces (the paper: 80k words); the softmax is the costliest layer
    character_coverage: float = 1.0  # below 1 maps the rarest characters to unk (CJK)
    input_sentence_size: int = 1_000_000  # sentences sampled to train sentencepiece
    # Apart from trainer.seed: runs with other training seeds share one preparation and
    # one vocabulary, as an ensemble needs.
    seed: int = 1


@dataclass
class ModelConfig:
    emb_dim: int = 256  # word vectors (the paper: 1000)
    hidden_dim: int = 256  # LSTM cells per layer (the paper: 1000)
    layers: int = 2  # stacked layers in encoder and decoder (the paper: 4)
    dropout: float = 0.0  # the paper uses none
    init_range: float = 0.08  # uniform(-0.08, 0.08), paper section 3.4
    reverse_source: bool = True  # paper section 3.3
    cell: str = "lstm"  # lstm | gru (no cell state)
    bidirectional: bool = False  # encoder reads both ways; a bridge maps 2H -> H
    # Units per encoder direction (default hidden_dim). With bidirectional, hidden_dim/2
    # costs about what a one-way encoder does (OpenNMT-py's brnn splits the size this way).
    encoder_hidden_dim: Optional[int] = None
    attention: str = "none"  # none (the paper) | dot | general (Luong et al. 2015)
    input_feeding: bool = False  # previous attentional vector joins the input (a step loop)
    language_model: bool = False  # the decoder alone on the target side (experiment=lm_en)


@dataclass
class OptimConfig:
    lr: float = 0.7  # paper section 3.4
    halve_after: float = 5.0  # epochs of constant lr before halving starts
    halve_every: float = 0.5  # then halve every half epoch
    epochs: float = 7.5  # the paper's 7.5; trainer.max_time can end training first
    # What the schedule counts: epochs (the paper), or the share of the training budget
    # spent (optim.epochs, trainer.max_time, trainer.max_steps: whichever ends training
    # first), times optim.epochs. With budget, a run cut short by max_time still halves.
    schedule_over: str = "epochs"  # epochs | budget
    clip_norm: float = 5.0  # if ||g|| > 5, g = 5 g / ||g|| (the paper): keeps LSTMs stable
    loss_per: str = "sentence"  # sentence (paper: divide by batch size) | token
    name: str = "sgd"  # sgd (the paper) | adam (lr about 0.001); the lr schedule applies to both
    label_smoothing: float = 0.0  # the paper uses none; 0.1 is common with attention models


@dataclass
class TrainerConfig:
    run_dir: str = "runs/${now:%Y-%m-%d_%H-%M-%S}"  # everything of the run; rerun to resume
    seed: int = 1  # initial parameters, dropout and batch order (ensembles differ here)
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch intra-op threads; 0 keeps torch's default (one per core)
    # autocast for the training forward pass (parameters and updates stay fp32). bf16: up to
    # 1.7x faster on CPUs with AVX512-BF16 or AMX (slower on some: auto times it), and on
    # recent GPUs; fp16: for GPUs without bf16 (V100, T4), with a dynamic loss scale
    # (torch.amp.GradScaler); auto: bf16 where the hardware has it natively and, on a CPU,
    # a short timing (cached per machine) finds it faster; else fp32.
    precision: str = "fp32"  # auto | fp32 | bf16 | fp16
    max_tokens: int = 4000  # a batch holds at most this many (padded) tokens per side
    max_sentences: int = 128  # and at most this many sentences (paper: 128)
    max_time: Optional[float] = None  # seconds of training; stops cleanly with a checkpoint
    max_steps: Optional[int] = None  # optimiser steps, over all resumptions
    log_every: int = 50  # steps between log lines (and TensorBoard points)
    eval_every: Optional[int] = None  # steps; None evaluates at each epoch's end
    eval_max_sentences: Optional[int] = None  # decode only the first N dev sentences
    save_every: Optional[int] = None  # steps between last.pt saves (besides each evaluation)
    keep_checkpoints: int = 0  # also keep checkpoint_<step>.pt of the last N evaluations
    # A NaN or infinite loss or gradient: stop with an error (last.pt stays the last good
    # state), or skip that batch without updating (counted in the log).
    on_nonfinite: str = "error"  # error | skip
    best_metric: str = "bleu"  # bleu | ppl: what best.pt is the best on
    eval_bleu: bool = True  # decode the dev set at each evaluation (false for a language model)
    tensorboard: bool = True  # scalars in <run_dir>/tensorboard/, if tensorboard is installed


@dataclass
class DecodeConfig:
    beam_size: int = 12  # paper section 3.4 (beam 2 gets most of the gain)
    batch_size: int = 64  # sentences decoded together
    max_len_a: float = 1.5  # hypotheses end at a * source_length + b
    max_len_b: int = 10  # (lengths in pieces: see max_len_a)
    length_penalty: float = 0.0  # 0: plain log-probability (the paper); 1: divide by length
    nbest: int = 1  # hypotheses returned per sentence, best first
    # bf16 autocast in the search: up to 2x faster on CPUs with AVX512-BF16 or AMX and on
    # recent GPUs; log-probabilities and scores stay fp32 (bench/results.md); auto: as
    # trainer.precision (native bf16 that a cached timing finds faster, else fp32).
    precision: str = "fp32"  # auto | fp32 | bf16


TRAIN_PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # seq2seq/hardware.py picks among them
DECODE_PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


def register() -> None:
    """Register the schema under the names the YAML defaults lists refer to."""
    cs = ConfigStore.instance()
    # Group files merge into this typed tree, so they are checked against it too.
    cs.store(name="train_schema", node=TrainConfig)


class ConfigError(ValueError):
    """A config that cannot be composed; its message is one line naming the key."""


def _one_line(exc: BaseException) -> str:
    """Find the OmegaConf error inside Hydra's wrapper and say it in one line."""
    cause: Optional[BaseException] = exc
    while cause is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        key = getattr(cause, "full_key", None) or getattr(cause, "key", None)
        msg = str(cause).splitlines()[0]
        return f"config key '{key}': {msg}" if key else f"config: {msg}"
    text = " ".join(str(exc).split()).split(" Config search path")[0]
    return "config: " + text


def load_config(overrides: list[str], config_name: str = "train") -> TrainConfig:
    """Compose conf/<config_name>.yaml with command-line style overrides, typed."""
    register()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=overrides)
        # Re-checked against a fresh schema: a key forced in with `+key=...` fails too.
        # Resolving here fills ${now:...} (a resolver Hydra registers).
        plain = OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_one_line(exc)) from exc
    except (ValueError, TypeError) as exc:  # Hydra's own checks on groups: `model=[1,2]`
        raise ConfigError(f"config: {' '.join(str(exc).split())} (overrides: "
                          f"{' '.join(overrides)})") from exc
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:  # `key=???`: a merge would quietly keep the default instead
        raise ConfigError(f"config key '{missing[0]}': missing value (???)")
    typed = config_from_dict(plain)
    validate(typed)
    return typed


def config_from_dict(d: dict) -> TrainConfig:
    """A TrainConfig from its plain-dict form (as stored in checkpoints), type-checked."""
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TrainConfig), d))
    except OmegaConfBaseException as exc:
        raise ConfigError(_one_line(exc)) from exc


def config_to_dict(cfg: TrainConfig) -> dict:
    return OmegaConf.to_container(OmegaConf.structured(cfg))


def validate(cfg: TrainConfig) -> None:
    """Range checks that types alone cannot express."""
    checks = [
        ("optim.lr", cfg.optim.lr > 0, "must be > 0"),
        ("optim.clip_norm", cfg.optim.clip_norm > 0, "must be > 0"),
        ("optim.halve_every", cfg.optim.halve_every > 0, "must be > 0"),
        ("optim.epochs", cfg.optim.epochs > 0, "must be > 0"),
        ("optim.schedule_over", cfg.optim.schedule_over in ("epochs", "budget"),
         "epochs | budget"),
        ("trainer.max_steps", cfg.trainer.max_steps is None or cfg.trainer.max_steps >= 1,
         "must be >= 1"),
        ("trainer.save_every", cfg.trainer.save_every is None or cfg.trainer.save_every >= 1,
         "must be >= 1"),
        ("trainer.keep_checkpoints", cfg.trainer.keep_checkpoints >= 0, "must be >= 0"),
        ("trainer.on_nonfinite", cfg.trainer.on_nonfinite in ("error", "skip"), "error | skip"),
        ("data.on_bad_line", cfg.data.on_bad_line in ("error", "skip"), "error | skip"),
        ("data.max_len", cfg.data.max_len >= 1, "must be >= 1"),
        ("trainer.max_time", cfg.trainer.max_time is None or cfg.trainer.max_time > 0,
         "must be > 0"),
        ("trainer.max_tokens", cfg.trainer.max_tokens >= 1, "must be >= 1"),
        ("trainer.max_sentences", cfg.trainer.max_sentences >= 1, "must be >= 1"),
        ("decode.batch_size", cfg.decode.batch_size >= 1, "must be >= 1"),
        ("optim.loss_per", cfg.optim.loss_per in ("sentence", "token"), "sentence | token"),
        ("model.dropout", 0 <= cfg.model.dropout < 1, "must be in [0, 1)"),
        ("model.layers", cfg.model.layers >= 1, "must be >= 1"),
        ("model.cell", cfg.model.cell in ("lstm", "gru"), "lstm | gru"),
        ("model.attention", cfg.model.attention in ("none", "dot", "general"),
         "none | dot | general"),
        ("model.input_feeding", not cfg.model.input_feeding or cfg.model.attention != "none",
         "needs model.attention dot or general"),
        ("optim.name", cfg.optim.name in ("sgd", "adam"), "sgd | adam"),
        ("optim.label_smoothing", 0 <= cfg.optim.label_smoothing < 1, "must be in [0, 1)"),
        ("model.hidden_dim", cfg.model.hidden_dim >= 1, "must be >= 1"),
        ("model.encoder_hidden_dim", cfg.model.encoder_hidden_dim is None
         or (cfg.model.encoder_hidden_dim >= 1 and (cfg.model.bidirectional or
                                                    cfg.model.encoder_hidden_dim
                                                    == cfg.model.hidden_dim)),
         "must be >= 1, and differ from model.hidden_dim only with model.bidirectional"),
        ("model.emb_dim", cfg.model.emb_dim >= 1, "must be >= 1"),
        ("model.init_range", cfg.model.init_range > 0, "must be > 0"),
        ("optim.halve_after", cfg.optim.halve_after >= 0, "must be >= 0"),
        ("tokenizer.src_vocab_size", cfg.tokenizer.src_vocab_size >= 5, "must be >= 5"),
        ("tokenizer.tgt_vocab_size", cfg.tokenizer.tgt_vocab_size >= 5, "must be >= 5"),
        ("decode.max_len_a", cfg.decode.max_len_a >= 0, "must be >= 0"),
        ("decode.max_len_b", cfg.decode.max_len_b >= 1, "must be >= 1"),
        ("decode.beam_size", cfg.decode.beam_size >= 1, "must be >= 1"),
        ("decode.nbest", 1 <= cfg.decode.nbest <= cfg.decode.beam_size,
         "must be in [1, beam_size]"),
        ("tokenizer.model_type", cfg.tokenizer.model_type in ("unigram", "bpe", "word", "char"),
         "unigram | bpe | word | char"),
        ("trainer.device", cfg.trainer.device in ("auto", "cpu", "cuda"), "auto | cpu | cuda"),
        ("trainer.precision", cfg.trainer.precision in TRAIN_PRECISIONS,
         " | ".join(TRAIN_PRECISIONS)),
        ("decode.precision", cfg.decode.precision in DECODE_PRECISIONS,
         " | ".join(DECODE_PRECISIONS)),
        ("trainer.best_metric", cfg.trainer.best_metric in ("bleu", "ppl"), "bleu | ppl"),
        ("trainer.best_metric", cfg.trainer.eval_bleu or cfg.trainer.best_metric == "ppl",
         "must be ppl when trainer.eval_bleu is false"),
        ("data", (cfg.data.local_dir is None) != (cfg.data.hub_path is None),
         "set exactly one of data.local_dir and data.hub_path"),
    ]
    for key, ok, why in checks:
        if not ok:
            raise ConfigError(f"config key '{key}': {why}")


def cli_config(argv: list[str], prog: str) -> TrainConfig:
    """Config for a command-line entry point: errors become one line and exit 2."""
    try:
        return load_config(argv)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(2)
