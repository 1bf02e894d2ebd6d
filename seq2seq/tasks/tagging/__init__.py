"""Tagging (tokens -> one tag per token: part-of-speech tags, named entities):

    task.py       Tagging: token accuracy, seqeval entity F1 (IOB2); best.pt on F1 for
                  IOB2 tags, else accuracy; another tagger's encoder as the start
    formats.py    tagged sentences on disk: CoNLL-U, CoNLL columns (IOB2), JSONL
    prepare.py    tagged sentences -> vocabularies and arrays (TaggingDataConfig)
    vocab.py      words (frequency cut), characters, tags; tokens as the encoder reads them
    arrays.py     a prepared split, memory-mapped, and its batches
    model.py      SequenceTagger(SequenceEncoder(words + characters), TokenHead [+ CRF]):
                  model/encoder=words, model/decoder=tags
    crf.py        a linear-chain CRF: NLL, Viterbi, marginals
    metrics.py    token accuracy, entity P/R/F1, the most frequent errors
    reference.py  seq2seq-score --task tag
    tagger.py     Tagger: the Python API (a run or an ensemble; probabilities)
    cli.py        seq2seq-tag: N lines in, N lines of tags out (or CoNLL-U / CoNLL filled in)

CoNLL-U is read with `conllu` and entities scored with `seqeval`: the `tag` extra
(`pip install 'seq2seq[tag]'`). `Tagging` is imported when asked for.
"""


def __getattr__(name: str):
    if name == "Tagging":
        from seq2seq.tasks.tagging.task import Tagging
        return Tagging
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
