"""Translation (text -> text), the paper's task:

    task.py        Translation: parallel text's preparation key, BLEU on dev, best.pt on it
    prepare.py     parallel text -> sentencepiece models, token arrays, raw dev/test text
    translator.py  Translator: the Python API (a run or an ensemble; n-best; batched search)
    cli.py         seq2seq-translate: N lines in, N lines out

`Translation` is imported when asked for: importing the command does not import the rest.
"""


def __getattr__(name: str):
    if name == "Translation":
        from seq2seq.tasks.translation.task import Translation
        return Translation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
