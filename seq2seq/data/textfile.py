"""Reading text files: plain or xz-compressed, UTF-8 checked line by line.

Every command that reads text (corpus preparation, translation, scoring) reads it here, so
a bad file fails the same way everywhere: one line naming the file and the line. Light on
purpose (no torch, no `datasets`): `seq2seq-score` starts in a fraction of a second.
"""
from __future__ import annotations

import json
import lzma
from pathlib import Path
from typing import Iterator, Optional


def read_lines(path: Path) -> Iterator[str]:
    """Lines of a UTF-8 text file (xz-compressed or not), without their newline.

    Lines end at b"\\n" only, as in `wc -l`. Invalid UTF-8 is an error naming the file and
    line, never silently replaced.
    """
    for number, raw in enumerate(_raw_lines(path), start=1):
        yield decode_line(raw, str(path), number)


def decoded_lines(path: Path) -> Iterator[tuple[int, Optional[str], str]]:
    """(line number, text or None if not UTF-8, the error read_lines would raise) for every
    line of the file: for callers that skip bad lines rather than stop."""
    for number, raw in enumerate(_raw_lines(path), start=1):
        try:
            yield number, decode_line(raw, str(path), number), ""
        except ValueError as exc:
            yield number, None, str(exc)


def decode_line(raw: bytes, name: str, number: int) -> str:
    """One line as read, its b"\\n" still on (a file's or stdin's alike), as text without
    its line end; a "\\r" before it goes too (files written on Windows).

    Invalid UTF-8 is a ValueError "NAME:NUMBER: invalid UTF-8 (reason)", never silently
    replaced. Decoding with the b"\\n" on gives a file and the same bytes on stdin the same
    reason (a character cut short before it is an "invalid continuation byte").
    """
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}:{number}: invalid UTF-8 ({exc.reason})") from None


def _raw_lines(path: Path) -> Iterator[bytes]:
    """Byte lines of a file, plain or .xz; a file that cannot be read is named in one line."""
    opener = lzma.open if str(path).endswith(".xz") else open
    try:
        with opener(path, "rb") as f:
            yield from f
    except (OSError, lzma.LZMAError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise OSError(f"{path}: cannot read ({why})") from None


def input_file(path: Path, what: str = "input file") -> Path:
    """`path`, if it is a file to read; else one line saying what it is instead (`what`
    names what was asked for)."""
    if Path(path).is_dir():
        raise IsADirectoryError(f"{path}: a directory, not a file")
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such {what}")
    return Path(path)


def json_lines(path: Path, skip_blank: bool = False) -> Iterator[tuple[str, object]]:
    """Each line of a JSON-lines file parsed, with the `PATH:LINE` an error about it names;
    a line that is not JSON (or not UTF-8) stops it, named. `skip_blank`: blank lines
    (often a last one) hold nothing, rather than being an error."""
    for number, line in enumerate(read_lines(path), start=1):
        if skip_blank and not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: not JSON ({exc.msg})") from None
        yield where, value


def count_lines(path: Path) -> int:
    return sum(1 for _ in _raw_lines(path))


def file_stamp(paths: list[Path]) -> str:
    """Sizes and modification times: changes when a corpus file is edited in place."""
    return "|".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths)
