"""The flat module paths of before issue 28, kept for one release: `import seq2seq.search`,
`from seq2seq.translator import Translator`, `python -m seq2seq.train` and the like still
work, and give the very module that now lives in its layer's package (one module object,
so classes and isinstance are the same whichever path imported them).

A finder at the end of `sys.meta_path` answers for these names only, after Python's own
finders: `seq2seq.config` and `seq2seq.data` are packages now, found first, and they hand
out the old modules' names themselves (their `__getattr__`). The table is the map of what
moved where.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

OLD_PATHS = {
    "schema": "config.schema", "checks": "config.checks", "config": "config.compose",
    "config_reference": "config.reference",
    "textfile": "data.textfile", "tokenizer": "data.tokenizer", "sources": "data.sources",
    "data": "data.corpus", "tokens": "data.tokens", "prepared": "data.prepared",
    "prefetch": "data.prefetch", "prepare": "cli.prepare",
    "onednn": "models.onednn", "recurrent": "models.recurrent",
    "encoders": "models.encoders", "decoder": "models.decoder",
    "model": "models.encoder_decoder", "metrics": "evaluation.metrics",
    "train": "cli.train", "optim": "training.optim", "distributed": "training.distributed",
    "report": "training.report", "resume": "training.resume",
    "checkpoint": "training.checkpoint", "rundir": "training.rundir",
    "hardware": "training.hardware",
    "search": "decoding.search", "ensemble": "decoding.ensemble", "trained": "decoding.trained",
    "cli": "cli.common", "average": "cli.average", "plot": "cli.plot", "score": "cli.score",
    "sweep": "cli.sweep",
    # moved into their task's package earlier in issue 28
    "translate": "tasks.translation.cli", "translator": "tasks.translation.translator",
    "classify": "tasks.classification.cli", "classification": "tasks.classification.classifier",
    "caption": "tasks.captioning.cli", "captioner": "tasks.captioning.captioner",
    "caption_metrics": "tasks.captioning.score", "sample": "tasks.language_model.cli",
}


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`seq2seq.<old>` -> the module at `seq2seq.<new>`."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.partition(".")
        if package != "seq2seq" or name not in OLD_PATHS:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return importlib.import_module(self._new(spec.name))

    def exec_module(self, module):
        pass  # already executed under its new name

    def get_code(self, fullname):
        """`python -m seq2seq.<old>` runs the new module's code as __main__."""
        new = importlib.util.find_spec(self._new(fullname))
        return new.loader.get_code(new.name)

    @staticmethod
    def _new(fullname: str) -> str:
        return "seq2seq." + OLD_PATHS[fullname.partition(".")[2]]


def install() -> None:
    if not any(isinstance(f, MovedModules) for f in sys.meta_path):
        sys.meta_path.append(MovedModules())
