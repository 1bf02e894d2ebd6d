"""The data layer: text files (textfile.py), sentencepiece models (tokenizer.py), a corpus
loaded through `datasets` and cut into length-bucketed batches (corpus.py), what a batch
hands the encoder (sources.py), token arrays on disk (tokens.py), the prepared-data
directory (prepared.py) and the driver that writes it (prepare.py), and batches collated
ahead of the step (prefetch.py).
"""


def __getattr__(name: str):
    # `from seq2seq.data import ...` of before issue 28 (then a module, now corpus.py), kept
    # for one release; a submodule's name falls through to the import of the submodule.
    import importlib
    corpus = importlib.import_module("seq2seq.data.corpus")
    if not name.startswith("_") and hasattr(corpus, name):
        return getattr(corpus, name)
    raise AttributeError(f"module 'seq2seq.data' has no attribute {name!r}")
