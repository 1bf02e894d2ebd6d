"""Configs: the typed schema (seq2seq/config/schema.py) registered with Hydra's ConfigStore,
composed from seq2seq/conf/ and checked (seq2seq/config/checks.py).

`seq2seq/conf/train.yaml` lists the schema first in its defaults, so every YAML file and every
command-line override is checked against these dataclasses: an unknown key or a value of
the wrong type fails when the config is composed, naming the key.

`load_config()` composes the config the way `seq2seq-train a=b` does and turns Hydra's
multi-line errors into a single line (`ConfigError`).
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

import yaml
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from seq2seq.config.checks import check_decode, find_builder, validate
from seq2seq.config.schema import (DECODE_PRECISIONS, NO_ENCODER, TEXT_ENCODER, TRAIN_PRECISIONS,
                            ConfigError, CorpusConfig, DataConfig, DecodeConfig, DecoderConfig,
                            EncoderConfig, ModelConfig, OptimConfig, TokenizerConfig,
                            TrainConfig, TrainerConfig)
from seq2seq.tasks import task_class, upgrade

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"  # shipped in the package (pyproject.toml)
# A source checkout's root: its bundled data (data/bible-es-en) is found from any directory
REPO_ROOT = CONF_DIR.parent.parent
# The config's names in one place: the schema's and checks' are re-exported from here.
__all__ = ["CONF_DIR", "REPO_ROOT", "ConfigError", "CorpusConfig", "DataConfig",
           "DecodeConfig", "DecoderConfig", "EncoderConfig", "ModelConfig", "OptimConfig",
           "TokenizerConfig", "TrainConfig", "TrainerConfig", "DECODE_PRECISIONS",
           "NO_ENCODER", "TEXT_ENCODER", "TRAIN_PRECISIONS", "check_decode", "cli_config",
           "config_from_dict", "config_to_dict", "decode_settings", "load_config",
           "read_config_file", "register", "validate"]
# Keys of the one data node every task shared, and of the one encoder node every encoder
# shared, before each task and each encoder had its own: a saved config may hold them where
# its node lacks them (dropped on reading, as nothing read them).
SHARED_KEYS = {"data": ("src_lang", "tgt_lang", "extra_ref_langs", "text_column",
                        "label_column", "caption_format", "caption_columns", "image_root",
                        "image_height", "image_width", "image_channels", "augment_shift"),
               "encoder": ("backbone", "cnn_width", "cnn_blocks", "weights", "frozen",
                           "image_feed"),
               "decoder": ("pooling",)}
# Each part's node: typed by what its `build` says (a builder's `config`), else these.
PART_NODES = {"encoder": (EncoderConfig, TEXT_ENCODER),
              "decoder": (DecoderConfig, DecoderConfig.build)}


@dataclass
class _ComposedModel(ModelConfig):
    encoder: Dict[str, Any] = field(default_factory=dict)
    decoder: Dict[str, Any] = field(default_factory=dict)


@dataclass
class _Composed(TrainConfig):
    """What Hydra composes against: every key typed but the data node's and the encoder's,
    whose keys depend on the task and on the encoder's builder (checked by
    `config_from_dict` once those are known)."""
    data: Dict[str, Any] = field(default_factory=dict)
    model: _ComposedModel = field(default_factory=_ComposedModel)


def register() -> None:
    """Register the schema under the names the YAML defaults lists refer to."""
    cs = ConfigStore.instance()
    # Group files merge into this typed tree, so they are checked against it too.
    schema = OmegaConf.structured(_Composed)
    # `data.key=value` sets any key, as a task's node may have keys no other has: they are
    # checked against the task's node once the task is known (config_from_dict).
    OmegaConf.set_struct(schema.data, False)
    OmegaConf.set_struct(schema.model.encoder, False)
    OmegaConf.set_struct(schema.model.decoder, False)
    cs.store(name="train_schema", node=schema)


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
    """Compose seq2seq/conf/<config_name>.yaml with command-line style overrides, typed."""
    register()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=overrides)
        # Re-checked against a fresh schema with the task's data node: a key forced in with
        # `+key=...` fails too. Interpolations (${now:...}, ${data.name}) resolve there,
        # where the data node's defaults are.
        plain = OmegaConf.to_container(cfg, resolve=False)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_one_line(exc)) from exc
    except (ValueError, TypeError) as exc:  # Hydra's own checks on groups: `model=[1,2]`
        raise ConfigError(f"config: {' '.join(str(exc).split())} (overrides: "
                          f"{' '.join(overrides)})") from exc
    missing = sorted(_missing(plain))
    if missing:  # `key=???`: a merge would quietly keep the default instead
        raise ConfigError(f"config key '{missing[0]}': missing value (???)")
    typed = config_from_dict(plain)
    validate(typed)
    return typed


def _missing(node, prefix: str = "") -> list[str]:
    """The keys set to ??? (unresolved: an interpolation is checked where it resolves)."""
    if isinstance(node, dict):
        return [k for key, v in node.items() for k in _missing(v, f"{prefix}{key}.")]
    return [prefix[:-1]] if node == "???" else []


def config_from_dict(d: dict, saved: bool = False) -> TrainConfig:
    """A TrainConfig from its plain-dict form, type-checked: the data node against the
    task's own (`Task.data_config`), model.encoder and model.decoder against their
    builders' (`config`). A `saved` one (a checkpoint's, a run's config.yaml) may hold keys
    those nodes had before each task and part had its own: they are dropped."""
    if not isinstance(d, dict):
        raise ConfigError(f"config: a mapping of keys expected, not {type(d).__name__}")
    d = upgrade(d)
    name = d.get("task", TrainConfig.task)
    if not isinstance(name, str):
        raise ConfigError(f"config key 'task': a task's id or dotted path, not {name!r}")
    model = d.get("model", {})
    parts = {part: _get(model, part, {}) for part in PART_NODES}
    nodes = {"data": task_class(name).data_config,
             **{part: getattr(find_builder(_get(node, "build", PART_NODES[part][1])),
                              "config", PART_NODES[part][0]) for part, node in parts.items()}}
    if saved:
        d = {**d, "data": _known(d.get("data", {}), nodes["data"], "data")}
        if isinstance(model, dict):
            d["model"] = {**model, **{part: _known(node, nodes[part], part)
                                      for part, node in parts.items()}}
    try:
        base = OmegaConf.structured(TrainConfig)
        base.data = OmegaConf.structured(nodes["data"])
        for part in PART_NODES:
            base.model[part] = OmegaConf.structured(nodes[part])
        return OmegaConf.to_object(OmegaConf.merge(base, d))
    except OmegaConfBaseException as exc:
        raise ConfigError(_one_line(exc)) from exc


def _get(node, key: str, default):
    return node.get(key, default) if isinstance(node, dict) else default


def _known(node, schema: type, name: str):
    """`node` without the keys SHARED_KEYS[name] lists that `schema` has not (a node that is
    not a mapping as it is: the merge names it)."""
    if not isinstance(node, dict):
        return node
    own = {f.name for f in dataclasses.fields(schema)}
    return {k: v for k, v in node.items() if k in own or k not in SHARED_KEYS[name]}


def read_config_file(path: Path) -> TrainConfig:
    """A run's config.yaml as a typed config; one line naming the file if it is not one."""
    try:
        return config_from_dict(OmegaConf.to_container(OmegaConf.load(path)), saved=True)
    except (OmegaConfBaseException, yaml.YAMLError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable run config "
                         f"({' '.join(str(exc).split())[:120]})") from None


def decode_settings(cfg: TrainConfig) -> DecodeConfig:
    """The run's decode settings as search uses them: decode.max_len resolved (None:
    twice data.max_len, the longest sentence training kept)."""
    if cfg.decode.max_len is not None:
        return cfg.decode
    return dataclasses.replace(cfg.decode, max_len=2 * cfg.data.max_len)


def config_to_dict(cfg: TrainConfig) -> dict:
    return OmegaConf.to_container(OmegaConf.structured(cfg))


def cli_config(argv: list[str], prog: str) -> TrainConfig:
    """Config for a command-line entry point: errors become one line and exit 2."""
    try:
        return load_config(argv)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(2)
