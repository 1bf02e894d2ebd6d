"""The config reference: every group and key of the schema with its default and why one
would change it, read from the comments beside each field in `schema.py`, so the
documentation cannot drift from the code.

    python -m seq2seq.config.reference      # the Markdown in the README's "Config reference"

`tests/config/test_config.py` checks that the README holds exactly this text.
"""
from __future__ import annotations

import dataclasses
import inspect

from omegaconf import OmegaConf

from seq2seq.config import compose as config
from seq2seq.config.checks import find_builder
from seq2seq.tasks import BUILTIN, task_class


def _data_nodes() -> list[tuple[str, type]]:
    """The keys every task's data node has, then each built-in task's own (a node shared by
    several tasks, or extending another's, shows only the keys it adds)."""
    nodes: dict[type, list[str]] = {}
    for name in BUILTIN:
        nodes.setdefault(task_class(name).data_config, []).append(name)
    return [("data", config.CorpusConfig)] + [
        (f"data (task={' or task='.join(names)})", cls) for cls, names in nodes.items()]


def _part_nodes(kind: str, base: type) -> list[tuple[str, type]]:
    """The keys of each part's own node (its builder's `config`) that a shipped
    seq2seq/conf/model/<kind>/ file selects, beyond `base`'s; the files named in its title."""
    nodes: dict[type, list[str]] = {}
    for path in sorted((config.CONF_DIR / "model" / kind).glob("*.yaml")):
        build = OmegaConf.load(path).get("build")
        node = getattr(find_builder(build), "config", base) if build else base
        if node is not base:
            nodes.setdefault(node, []).append(path.stem)
    return [(f"model.{kind} (model/{kind}={' or '.join(names)})", cls)
            for cls, names in nodes.items()]


# The top level's own keys (task), then each group; a group inside a group (model.encoder)
# gets its own table.
GROUPS = [("", config.TrainConfig), *_data_nodes(),
          ("tokenizer", config.TokenizerConfig), ("model", config.ModelConfig),
          ("model.encoder", config.EncoderConfig), *_part_nodes("encoder", config.EncoderConfig),
          ("model.decoder", config.DecoderConfig), *_part_nodes("decoder", config.DecoderConfig),
          ("optim", config.OptimConfig), ("trainer", config.TrainerConfig),
          ("decode", config.DecodeConfig)]
START, END = "<!-- config reference: start -->", "<!-- config reference: end -->"


def field_comments(cls: type) -> dict[str, str]:
    """Each field's comment: the full-line comments above it and the one beside it."""
    comments: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsourcelines(cls)[0][1:]:
        text = line.strip()
        if text.startswith("#"):
            above.append(text.lstrip("#").strip())
            continue
        code, _, beside = text.partition("  # ")
        if ":" in code and not code.startswith(("@", "def ", '"')):
            comments[code.split(":")[0].strip()] = " ".join([*above, beside]).strip()
        above = []
    return comments


def own_fields(cls: type) -> list[dataclasses.Field]:
    """The keys a group itself declares (not those it inherits, nor the groups inside it:
    they have their own tables)."""
    return [f for f in dataclasses.fields(cls) if f.name in vars(cls).get("__annotations__", {})
            and (f.default is not dataclasses.MISSING or
                 not dataclasses.is_dataclass(f.default_factory()))]


def _default(f: dataclasses.Field) -> str:
    """As one would write it on the command line."""
    value = f.default_factory() if f.default is dataclasses.MISSING else f.default
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


def reference() -> str:
    """Markdown: one table per group, a row per key."""
    out = [START]
    for group, cls in GROUPS:
        comments = field_comments(cls)
        out += ["", f"**{group or 'top level'}**", "", "| key | default | what, and why "
                "change it |", "| --- | --- | --- |"]
        for f in own_fields(cls):
            why = comments.get(f.name, "").replace("|", "\\|")
            key = f"{group.split(' ')[0]}.{f.name}" if group else f.name
            out.append(f"| `{key}` | `{_default(f)}` | {why} |")
    return "\n".join(out + ["", END])


if __name__ == "__main__":
    print(reference())
