"""Tagged sentences on disk, the data of a tagger: tokens and one tag per token, read from

    <dir>/<split>.conllu            CoNLL-U (the `conllu` parser): a token column (FORM) and
                                    the tag column `upos`, `xpos` or a MISC key (`misc:NER`);
                                    multiword-token ranges (1-2) and empty nodes (8.1) skipped
    <dir>/<split>.iob2 | .conll     one token a line, whitespace- or tab-separated columns,
                                    the token and the tag by index (CoNLL-2003: 0 and -1;
                                    Universal NER: 1 and 2); `#` comments and -DOCSTART-
                                    skipped; a blank line ends a sentence
    <dir>/<split>.jsonl             {"tokens": [...], "tags": [...]}, keys as configured

each plain or .xz. A split may name a slice of its sentences: `uner-dev[:1800]`,
`uner-dev[1800:]`. Every reader yields (where, tokens, tags), `where` naming the file and
line of the sentence's first token for errors; `tags` is None where no tag column is read
(text to tag). Bad input stops with one line naming it: a token line with another number of
columns than the file's first, an empty sentence, tokens and tags of different lengths.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Optional

from seq2seq.config.extras import requires
from seq2seq.data.textfile import json_lines, read_lines

FORMATS = {".conllu": "conllu", ".iob2": "conll", ".conll": "conll", ".bio": "conll",
           ".jsonl": "jsonl"}
Sentence = tuple[str, list[str], Optional[list[str]]]  # (where, tokens, tags or None)
CONLLU_FIELDS = 10
_SLICE = re.compile(r"^(?P<name>.+?)\[(?P<start>-?\d*):(?P<stop>-?\d*)\]$")


def file_format(path: Path) -> Optional[str]:
    """conllu | conll | jsonl, by the name's suffix (before any .xz); None for plain text."""
    return FORMATS.get(Path(path.name.removesuffix(".xz")).suffix)


def split_slice(split: str) -> tuple[str, slice]:
    """`name[a:b]` -> (name, slice(a, b)); a plain name -> (name, every sentence)."""
    m = _SLICE.match(split)
    if m is None:
        return split, slice(None)
    start, stop = (int(v) if v else None for v in (m["start"], m["stop"]))
    return m["name"], slice(start, stop)


def find_tagged(directory: Path, split: str) -> Path:
    """`<dir>/<split>.{conllu,iob2,conll,bio,jsonl}[.xz]` (a slice's file: its name's)."""
    name = split_slice(split)[0]
    for suffix in FORMATS:
        for candidate in (f"{name}{suffix}", f"{name}{suffix}.xz"):
            if (directory / candidate).is_file():
                return directory / candidate
    raise FileNotFoundError(f"{directory / name}: no such tagged file "
                            f"({', '.join(FORMATS)}, plain or .xz)")


def read_tagged(path: Path, column: Optional[str], token_column: int = 0,
                tag_column: int = -1, tokens_key: str = "tokens",
                tags_key: str = "tags") -> Iterator[Sentence]:
    """Every sentence of a tagged file, in order. `column`: a CoNLL-U file's tag column
    (None: tokens only); the column indices are a CoNLL file's, the keys a JSONL file's
    (a None `tags_key` or `column` reads tokens alone)."""
    kind = file_format(path)
    if kind == "conllu":
        yield from read_conllu(path, column)
    elif kind == "conll":
        yield from read_conll(path, token_column, tag_column if column is not None else None)
    elif kind == "jsonl":
        yield from read_jsonl(path, tokens_key, tags_key if column is not None else None)
    else:
        raise ValueError(f"{path}: not a tagged file ({', '.join(FORMATS)}, plain or .xz)")


def blocks(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line number, lines) of each blank-line-separated block of a file."""
    block: list[str] = []
    start = 1
    for number, line in enumerate(read_lines(path), start=1):
        if line.strip():
            if not block:
                start = number
            block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


# ---------------------------------------------------------------- CoNLL-U
def conllu_tag(token: dict, column: str, where: str) -> str:
    """The tag `column` names of a parsed CoNLL-U token: upos, xpos, or misc:KEY."""
    if column.startswith("misc:"):
        value = (token.get("misc") or {}).get(column[5:])
    elif column in ("upos", "xpos", "deprel", "lemma"):
        value = token.get(column)
    else:
        raise ValueError(f"data.column: {column}: upos | xpos | deprel | lemma | misc:KEY")
    if value is None or value == "_":
        raise ValueError(f"{where}: no {column} tag")
    return str(value)


def read_conllu(path: Path, column: Optional[str]) -> Iterator[Sentence]:
    """Sentences of a CoNLL-U file: their words (multiword ranges and empty nodes skipped)."""
    conllu = requires("conllu", "tag", f"{path}: reading CoNLL-U")

    for start, lines in blocks(path):
        numbers = []
        for offset, line in enumerate(lines):
            if line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != CONLLU_FIELDS:
                raise ValueError(f"{path}:{start + offset}: {len(fields)} tab-separated "
                                 f"columns, CoNLL-U has {CONLLU_FIELDS}")
            numbers.append(start + offset)
        try:
            (parsed,) = conllu.parse("\n".join(lines) + "\n\n")
        except (conllu.exceptions.ParseException, ValueError) as exc:
            raise ValueError(f"{path}:{start}: not CoNLL-U ({exc})") from None
        words = [(n, t) for n, t in zip(numbers, parsed) if isinstance(t["id"], int)]
        if not words:
            raise ValueError(f"{path}:{start}: a sentence without tokens")
        tokens = [_token(f"{path}:{n}", t["form"]) for n, t in words]
        tags = None if column is None else [conllu_tag(t, column, f"{path}:{n}")
                                            for n, t in words]
        yield f"{path}:{words[0][0]}", tokens, tags


# ---------------------------------------------------------------- CoNLL columns
def read_conll(path: Path, token_column: int, tag_column: Optional[int]) -> Iterator[Sentence]:
    """Sentences of a one-token-a-line file; every token line has the first one's columns."""
    width = None
    for start, lines in blocks(path):
        tokens, tags, first = [], [], None
        for offset, line in enumerate(lines):
            if line.startswith("#") or line.startswith("-DOCSTART-"):
                continue
            where = f"{path}:{start + offset}"
            fields = line.split("\t") if "\t" in line else line.split()
            width = len(fields) if width is None else width
            if len(fields) != width:
                raise ValueError(f"{where}: {len(fields)} columns, the file's first token "
                                 f"line has {width}")
            for index in (token_column, tag_column):
                if index is not None and not -width <= index < width:
                    raise ValueError(f"{where}: no column {index} ({width} columns; "
                                     "data.token_column, data.tag_column)")
            first = first or where
            tokens.append(_token(where, fields[token_column]))
            if tag_column is not None:
                tags.append(_tag(where, fields[tag_column]))
        if first is not None:  # a block of comments alone (a document's header) is no sentence
            yield first, tokens, tags if tag_column is not None else None


# ---------------------------------------------------------------- JSON lines
def read_jsonl(path: Path, tokens_key: str, tags_key: Optional[str]) -> Iterator[Sentence]:
    for where, record in json_lines(path, skip_blank=True):
        keys = (tokens_key,) if tags_key is None else (tokens_key, tags_key)
        for key in keys:
            if not isinstance(record, dict) or not isinstance(record.get(key), list):
                raise ValueError(f"{where}: no list under '{key}'")
        yield checked(where, record[tokens_key],
                      None if tags_key is None else record[tags_key])


def checked(where: str, tokens: list, tags: Optional[list]) -> Sentence:
    """A sentence from lists (JSON, a hub dataset): tokens, one tag each, neither empty."""
    if not tokens:
        raise ValueError(f"{where}: an empty sentence (no tokens)")
    if tags is not None and len(tags) != len(tokens):
        raise ValueError(f"{where}: {len(tokens)} tokens but {len(tags)} tags")
    out_tokens = [_token(where, t) for t in tokens]
    return where, out_tokens, None if tags is None else [_tag(where, t) for t in tags]


def _token(where: str, token: object) -> str:
    if not isinstance(token, str) or not token.strip() or len(token.split()) != 1:
        raise ValueError(f"{where}: token {token!r}: a token is a non-empty string without "
                         "spaces")
    return token.strip()


def _tag(where: str, tag: object) -> str:
    if isinstance(tag, bool) or not isinstance(tag, (str, int)) or not str(tag).strip():
        raise ValueError(f"{where}: tag {tag!r}: a tag is a non-empty string")
    return str(tag).strip()
