"""The language model (one language's text alone, the decoder without an encoder):

    task.py        LanguageModelling: dev perplexity, best.pt on it
    prepare.py     one language's sentences -> sentencepiece, single-sided token arrays
    sample.py      Sampler (the Python API): sentences drawn one token at a time
    cli.py         seq2seq-sample

`LanguageModelling` is imported when asked for.
"""


def __getattr__(name: str):
    if name == "LanguageModelling":
        from seq2seq.tasks.language_model.task import LanguageModelling
        return LanguageModelling
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
