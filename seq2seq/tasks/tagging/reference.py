"""`seq2seq-score --task tag`: predicted tag lines against references.

    seq2seq-score --task tag runs/upos/test.hyp data/prepared/.../test.ref
    seq2seq-score --task tag ner.hyp data/ud-english-ewt/uner-test.iob2.xz
    seq2seq-score --task tag pos.hyp data/ud-english-ewt/test.conllu.xz --label-column xpos

The hypothesis: one sentence a line, its tags space-separated (what seq2seq-tag writes).
The reference: such lines, or a tagged file (formats.py) read at `--label-column`: a
CoNLL-U column (default upos), a CoNLL column index (default the last) or a JSONL key
(default tags). Sentence i of one is sentence i of the other, with as many tags.
"""
from __future__ import annotations

from pathlib import Path

from seq2seq.data.textfile import input_file, read_lines
from seq2seq.tasks.tagging.formats import file_format, read_tagged
from seq2seq.tasks.tagging.metrics import TagScores, tag_scores

DEFAULT_COLUMN = "label"  # seq2seq-score's default: each format's usual tag column


def reference_tags(path: Path, column: str) -> list[list[str]]:
    """Every sentence's tags of a reference file."""
    kind = file_format(path)
    if kind is None:
        return [line.split() for line in read_lines(path)]
    if kind == "conll":
        index = -1 if column == DEFAULT_COLUMN else _index(column)
        sentences = read_tagged(path, "tags", 0, index)
    elif kind == "jsonl":
        key = "tags" if column == DEFAULT_COLUMN else column
        sentences = read_tagged(path, "tags", tags_key=key)
    else:
        sentences = read_tagged(path, "upos" if column == DEFAULT_COLUMN else column)
    return [tags for _, _, tags in sentences]


def _index(column: str) -> int:
    try:
        return int(column)
    except ValueError:
        raise ValueError(f"--label-column: a CoNLL file's tag column is an index (got "
                         f"{column})") from None


def score_tags(hyp: Path, ref: Path, column: str) -> TagScores:
    input_file(hyp, "file")
    input_file(ref, "file")
    predicted = [line.split() for line in read_lines(hyp)]
    gold = reference_tags(ref, column)
    if len(predicted) != len(gold):
        raise ValueError(f"{ref} has {len(gold)} sentences but {hyp} has {len(predicted)} "
                         "lines")
    for number, (p, g) in enumerate(zip(predicted, gold), start=1):
        if len(p) != len(g):
            raise ValueError(f"{hyp}:{number}: {len(p)} tags, the reference's sentence "
                             f"{number} has {len(g)}")
    return tag_scores(predicted, gold)
