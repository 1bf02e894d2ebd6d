"""Labelled text, the data of a classifier: a text and its label, read from

    <dir>/<split>.tsv | .csv | .jsonl  (plain or .xz)   a text column and a label column,
                                                         named by a header (tsv, csv) or keys
    <dir>/<split>/<label>/*.txt                          one text a file, its folder the label
                                                         (the aclImdb layout: train/pos/1_7.txt)

Every reader yields (where, text, label), `where` naming the file and line (or the file) for
errors. Bad input stops with one line naming it: a missing column, an empty text, a label
that training never saw. Labels are names as written ("pos", "4"); the label set is the
training split's, sorted, and a run keeps it in its labels.txt.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Iterable, Iterator

from seq2seq.data.textfile import json_lines, read_lines

TABLES = (".tsv", ".csv", ".jsonl")
Example = tuple[str, str, str]  # (where, text, label)


def find_labelled(directory: Path, split: str) -> Path:
    """`<dir>/<split>.{tsv,csv,jsonl}[.xz]`, or the folder `<dir>/<split>/`."""
    for suffix in TABLES:
        for name in (f"{split}{suffix}", f"{split}{suffix}.xz"):
            if (directory / name).is_file():
                return directory / name
    if (directory / split).is_dir():
        return directory / split
    raise FileNotFoundError(f"{directory / split}: no such labelled file "
                            f"({', '.join(TABLES)}, plain or .xz) nor folder of label folders")


def read_labelled(path: Path, text_column: str, label_column: str) -> Iterator[Example]:
    """Every example of a table file or a folder of label folders, in order."""
    if path.is_dir():
        yield from _folders(path)
        return
    for where, (text, label) in _records(path, (text_column, label_column)):
        yield where, _text(where, text, text_column), _label(where, label, label_column)


def read_label_column(path: Path, label_column: str) -> Iterator[tuple[str, str]]:
    """(where, label) of every example of a table file or a folder of label folders, in
    order: the references of `seq2seq-score --task classification`, which need no text column."""
    if path.is_dir():
        yield from ((str(file), file.parent.name) for file in folder_files(path))
        return
    for where, (label,) in _records(path, (label_column,)):
        yield where, _label(where, label, label_column)


def _records(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[str, list]]:
    """(where, the values of `columns`) of each line of a table or .jsonl file."""
    if path.name.removesuffix(".xz").endswith(".jsonl"):
        return _jsonl(path, columns)
    return _table(path, columns)


def _table(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[str, list[str]]]:
    # TSV: fields never quoted (a text may hold quotes); CSV: quoted as csv writes it. One
    # record a line: a quoted field spanning lines is refused (_fields).
    tsv = path.name.removesuffix(".xz").endswith(".tsv")
    dialect = dict(delimiter="\t", quoting=csv.QUOTE_NONE) if tsv else dict(delimiter=",")
    lines = read_lines(path)  # UTF-8 checked, line by line
    header = next(lines, None)
    if header is None:
        raise ValueError(f"{path}: empty (a header line naming the columns comes first)")
    names = _fields(f"{path}:1", header, dialect)
    for column in columns:
        if column not in names:
            raise ValueError(f"{path}:1: no column '{column}' (columns: {', '.join(names)})")
    at = [names.index(column) for column in columns]
    for number, line in enumerate(lines, start=2):
        row = _fields(f"{path}:{number}", line, dialect)
        if len(row) != len(names):
            raise ValueError(f"{path}:{number}: {len(row)} fields, the header has {len(names)}")
        yield f"{path}:{number}", [row[i] for i in at]


def _fields(where: str, line: str, dialect: dict) -> list[str]:
    """One line's fields. A line that ends inside quotes is refused: its record goes on
    past the line break, and its field count alone would hide why."""
    # given the line and an empty one, csv reads the second only to finish an open quote
    reader = csv.reader([line, ""], **dialect)
    row = next(reader, [])
    if reader.line_num > 1:
        raise ValueError(f"{where}: a quoted field runs past the end of the line (a line "
                         "break inside quotes): one record a line")
    return row


def _jsonl(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[str, list]]:
    for where, record in json_lines(path):
        for column in columns:
            if not isinstance(record, dict) or column not in record:
                raise ValueError(f"{where}: no key '{column}'")
        yield where, [record[column] for column in columns]


UNLABELLED = "unsup"  # aclImdb/train/unsup/: 50,000 reviews without a label


def folder_files(root: Path) -> list[Path]:
    """<root>/<label>/*.txt, labels and files in sorted order; aclImdb's unlabelled
    `unsup/` folder is not a label."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name != UNLABELLED)
    if not folders:
        raise ValueError(f"{root}: no label folders (<label>/*.txt)")
    return [file for folder in folders for file in sorted(folder.glob("*.txt"))]


def _folders(root: Path) -> Iterator[Example]:
    for file in folder_files(root):
        text = " ".join(read_lines(file))  # one line, spaces made one (by _text)
        yield str(file), _text(str(file), text, "the file"), file.parent.name


def _text(where: str, text: object, text_column: str) -> str:
    """One line of text (a JSON string's line breaks and tabs become spaces, as a file's
    do), not empty."""
    if not isinstance(text, str):  # a JSON value; a table's fields are strings
        raise ValueError(f"{where}: '{text_column}' is {json.dumps(text)}, not a string")
    text = " ".join(text.split())
    if not text:
        raise ValueError(f"{where}: empty text in {text_column!r}")
    return text


def _label(where: str, label: object, label_column: str) -> str:
    """A label as written, not empty; JSON may give it as an integer."""
    if isinstance(label, bool) or not isinstance(label, (str, int)):
        raise ValueError(f"{where}: '{label_column}' is {json.dumps(label)}: a label is a "
                         "string or an integer")
    if not str(label).strip():
        raise ValueError(f"{where}: empty label")
    return str(label).strip()


def label_set(examples: list[Example]) -> list[str]:
    """The training split's labels, sorted (numbers by value: "2" before "10")."""
    return label_order({label for _, _, label in examples})


def label_order(names: Iterable[str]) -> list[str]:
    """Labels sorted: integers by value ("-1", "2", "10"), then names."""
    return sorted(set(names), key=lambda n: (0, int(n), n) if re.fullmatch(r"-?[0-9]+", n)
                  else (1, 0, n))


def read_labels(path: Path) -> list[str]:
    """A run's (or a preparation's) labels.txt: line i names label id i."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no labels file (a classifier run keeps its labels "
                                "there, one a line)")
    labels = list(read_lines(path))  # not UTF-8: named by file and line
    if not labels or not all(label.strip() for label in labels):
        raise ValueError(f"{path}: empty, or an empty line (one label a line)")
    return labels


def write_labels(path: Path, labels: list[str]) -> None:
    path.write_text("".join(label + "\n" for label in labels), encoding="utf-8")


def check_labels(examples: list[Example], labels: list[str]) -> None:
    """Dev and test may use only labels training saw: the first other one, named."""
    known = set(labels)
    for where, _, label in examples:
        if label not in known:
            raise ValueError(f"{where}: label {label!r} is not one of the training labels "
                             f"({', '.join(labels)})")
