"""Optional dependencies, imported where they are used: a missing one is one line naming the
extra of pyproject.toml that brings it.

    seq2seq-caption: error: ImportError: seq2seq-caption (reading images) needs PIL, which
    is not installed: pip install 'seq2seq[caption]'
"""
from __future__ import annotations

import importlib


def requires(module: str, extra: str, what: str):
    """An optional dependency, imported where it is used: missing, one line naming the extra
    that brings it (`what` needs it)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs {module.split('.')[0]}, which is not installed: "
                          f"pip install 'seq2seq[{extra}]'") from None
