"""The config layer: the typed schema of every shared key (schema.py), the range and
consistency checks types cannot express (checks.py), composing a config from seq2seq/conf/
and the command line (compose.py), the README's config reference (reference.py), and
optional dependencies named by their extra (extras.py). Imports nothing above it but the
task registry (seq2seq/tasks/__init__.py), which names tasks by dotted path only.
"""


def __getattr__(name: str):
    # `from seq2seq.config import ...` of before issue 28 (then a module, now compose.py), kept
    # for one release; a submodule's name falls through to the import of the submodule.
    import importlib
    compose = importlib.import_module("seq2seq.config.compose")
    if not name.startswith("_") and hasattr(compose, name):
        return getattr(compose, name)
    raise AttributeError(f"module 'seq2seq.config' has no attribute {name!r}")
