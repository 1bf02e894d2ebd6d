"""Tasks: what a run learns. The interface is `seq2seq.tasks.base.Task`; the built-in ones:

    translation      text -> text    token cross-entropy   dev ppl + BLEU (beam search,
                                                           detokenised)   best: BLEU
    language_model   nothing -> text token cross-entropy   dev ppl        best: ppl
    classification   text -> label   cross-entropy a text  dev accuracy, macro-F1, confusion
    (classify)                                                            best: accuracy
    captioning       image -> text   token cross-entropy   dev ppl, BLEU-1..4, CIDEr-D, exact
    (caption)        (or video)                            match, CER (beam search against
                                                           every reference)  best: CIDEr-D
    tagging (tag)    tokens -> a tag  token cross-entropy  dev token accuracy, entity F1
                     per token        (or a CRF's NLL)     (IOB2)   best: F1, else accuracy

A task's id is a noun; in brackets the other name it answers to, its command's verb (the
id it had before issue 28: saved configs that name it read as the noun).

`task=` in the config takes one of these ids or the dotted path of a Task class anywhere
importable (`task=my_tasks.Spelling`), as the model's parts are found. Nothing here imports
a task's module until it is asked for: the shared machinery asks by name.
"""
from __future__ import annotations

import importlib

from seq2seq.config.schema import NO_ENCODER, TEXT_ENCODER, ConfigError

BUILTIN = {"translation": "seq2seq.tasks.translation.task.Translation",
           "language_model": "seq2seq.tasks.language_model.task.LanguageModelling",
           "classification": "seq2seq.tasks.classification.task.Classification",
           "captioning": "seq2seq.tasks.captioning.task.Captioning",
           "tagging": "seq2seq.tasks.tagging.task.Tagging"}
# Other names a task answers to: its command's verb (seq2seq-score --task tag), which was
# the id of two tasks before issue 28 (saved configs say task: classification, task: caption)
ALIASES = {"classify": "classification", "caption": "captioning", "tag": "tagging"}


def task_class(name: str) -> type:
    """The Task class `task=name` means; one line naming the key if there is none."""
    path = BUILTIN.get(task_id(name), name)
    module, _, attr = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), attr, None) if module else None
    except ImportError as exc:
        raise ConfigError(f"config key 'task': {name}: {exc}") from None
    if not isinstance(found, type):
        raise ConfigError(f"config key 'task': {' | '.join(BUILTIN)}, or the dotted path of "
                          f"a Task class (got {name})")
    return found


def task_id(name: str) -> str:
    """A task's own id for any name it answers to (a dotted path is its own id)."""
    return ALIASES.get(name, name)


def readers(command: str) -> list[str]:
    """The built-in tasks' ids whose runs `command` reads."""
    return [n for n in BUILTIN if task_class(n).command == command] or [f"{command}'s task"]


def build_task(cfg, tokenizer, prepared):
    """The task `cfg.task` names, with its settings (a classifier: the prepared labels)."""
    return task_class(cfg.task).from_config(cfg, tokenizer, prepared)


# Parts that moved (issue 28): into their task's package, or the shared ones into
# seq2seq/models/. A saved config names them where they were.
MOVED_PARTS = {
    "seq2seq.encoders.text_encoder": "seq2seq.models.encoders.text_encoder",
    "seq2seq.encoders.no_encoder": "seq2seq.models.encoders.no_encoder",
    "seq2seq.decoder.recurrent_decoder": "seq2seq.models.decoder.recurrent_decoder",
    "seq2seq.vision.image_encoder": "seq2seq.tasks.captioning.encoders.image_encoder",
    "seq2seq.vision.frame_encoder": "seq2seq.tasks.captioning.encoders.frame_encoder",
    "seq2seq.classifier.classifier_head": "seq2seq.tasks.classification.model.classifier_head"}


def upgrade(d: dict) -> dict:
    """A saved config in today's shape: its task by its own id, its parts' builders where
    they live now, and (one saved before issue 19) the model's variant flags moved to
    model.encoder / model.decoder, `task` in place of model.language_model,
    trainer.eval_bleu and trainer.best_metric."""
    if isinstance(d.get("task"), str):
        d = {**d, "task": task_id(d["task"])}
    model = d.get("model")
    if isinstance(model, dict):
        moved = {part: {**node, "build": MOVED_PARTS[node["build"]]}
                 for part, node in model.items()
                 if isinstance(node, dict) and node.get("build") in MOVED_PARTS}
        d = {**d, "model": {**model, **moved}}
    return _before_issue_19(d)


def _before_issue_19(d: dict) -> dict:
    model = dict(d.get("model", {}))
    if not {"bidirectional", "attention", "language_model"} & model.keys():
        return d
    lm = model.pop("language_model", False)
    model["encoder"] = {"build": NO_ENCODER if lm else TEXT_ENCODER,
                        "bidirectional": model.pop("bidirectional", False),
                        "hidden_dim": model.pop("encoder_hidden_dim", None)}
    model["decoder"] = {"attention": model.pop("attention", "none"),
                        "input_feeding": model.pop("input_feeding", False)}
    trainer = {k: v for k, v in d.get("trainer", {}).items()
               if k not in ("eval_bleu", "best_metric")}
    return {**d, "model": model, "trainer": trainer,
            "task": "language_model" if lm else "translation"}


def __getattr__(name: str):
    # Old import paths, kept for one release: the shared pieces (token_loss, Objective) from
    # base, and each built-in task's class from its module, when asked for by name.
    base = importlib.import_module("seq2seq.tasks.base")
    if hasattr(base, name):
        return getattr(base, name)
    for path in BUILTIN.values():
        if path.rpartition(".")[2] == name:
            return task_class(path)
    raise AttributeError(f"module 'seq2seq.tasks' has no attribute {name!r}")
