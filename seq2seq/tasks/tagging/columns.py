"""A tagged file written back with the predicted column filled: `seq2seq-tag --format conllu`
and `--format conll`. Every other line (comments, -DOCSTART-, multiword-token ranges, empty
nodes, blank lines) and every other field stays byte for byte as it was read.

    conllu   the column `upos` (4th), `xpos` (5th), or `misc:KEY` (KEY=TAG set in MISC)
    conll    the tag replaces the field at `tag_column`, or is appended as a last field
"""
from __future__ import annotations

from typing import Callable, Optional

from seq2seq.tasks.tagging.formats import CONLLU_FIELDS

Tag = Callable[[list[list[str]]], list[list[str]]]  # sentences' tokens -> their tags
CONLLU_COLUMNS = {"upos": 3, "xpos": 4}


def _sentences(lines: list[str], token_fields: Callable[[int, str], Optional[list[str]]]
               ) -> list[list[tuple[int, list[str]]]]:
    """Each blank-line-separated sentence's token lines as (line index, fields)."""
    out, current = [], []
    for i, line in enumerate(lines):
        if not line.strip():
            if current:
                out.append(current)
            current = []
            continue
        fields = token_fields(i, line)
        if fields is not None:
            current.append((i, fields))
    if current:
        out.append(current)
    return out


def fill_conllu(lines: list[str], name: str, column: str, tag: Tag) -> list[str]:
    """CoNLL-U lines with `column` of every word (integer id) set to its predicted tag."""
    def fields(i: int, line: str) -> Optional[list[str]]:
        if line.startswith("#"):
            return None
        parts = line.split("\t")
        if len(parts) != CONLLU_FIELDS:
            raise ValueError(f"{name}:{i + 1}: {len(parts)} tab-separated columns, CoNLL-U "
                             f"has {CONLLU_FIELDS}")
        return parts if parts[0].isdigit() else None  # 1-2 ranges, 8.1 empty nodes: kept
    if column not in CONLLU_COLUMNS and not column.startswith("misc:"):
        raise ValueError(f"--column: upos | xpos | misc:KEY (got {column})")
    return _filled(lines, _sentences(lines, fields), 1, tag,
                   lambda parts, t: _set_conllu(parts, column, t))


def _set_conllu(parts: list[str], column: str, tag: str) -> list[str]:
    parts = list(parts)
    if column in CONLLU_COLUMNS:
        parts[CONLLU_COLUMNS[column]] = tag
        return parts
    key = column[5:]
    misc = [] if parts[9] == "_" else [m for m in parts[9].split("|")
                                      if m.split("=")[0] != key]
    parts[9] = "|".join(misc + [f"{key}={tag}"])
    return parts


def fill_conll(lines: list[str], name: str, token_column: int, tag_column: Optional[int],
               tag: Tag) -> list[str]:
    """Token lines with the predicted tag at `tag_column` (None: appended as a last field)."""
    width: list[int] = []

    def fields(i: int, line: str) -> Optional[list[str]]:
        if line.startswith("#") or line.startswith("-DOCSTART-"):
            return None
        parts = line.split("\t") if "\t" in line else line.split()
        if not width:
            width.append(len(parts))
        if len(parts) != width[0]:
            raise ValueError(f"{name}:{i + 1}: {len(parts)} columns, the first token line "
                             f"has {width[0]}")
        for index in (token_column, tag_column):
            if index is not None and not -len(parts) <= index < len(parts):
                raise ValueError(f"{name}:{i + 1}: no column {index} ({len(parts)} columns)")
        return parts

    def put(parts: list[str], t: str) -> list[str]:
        if tag_column is None:
            return parts + [t]
        return [t if i == tag_column % len(parts) else p for i, p in enumerate(parts)]
    return _filled(lines, _sentences(lines, fields), token_column, tag, put, sep_of=lines)


def _filled(lines: list[str], sentences, token_column: int, tag: Tag,
            put: Callable[[list[str], str], list[str]],
            sep_of: Optional[list[str]] = None) -> list[str]:
    out = list(lines)
    tags = tag([[parts[token_column] for _, parts in s] for s in sentences])
    for sentence, sentence_tags in zip(sentences, tags):
        for (i, parts), t in zip(sentence, sentence_tags):
            sep = "\t" if sep_of is None or "\t" in sep_of[i] else " "
            out[i] = sep.join(put(parts, t))
    return out
