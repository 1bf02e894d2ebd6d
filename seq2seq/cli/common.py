"""How every seq2seq command fails: one line on stderr naming the file, line or key.

    seq2seq-translate: error: in.txt:3: invalid UTF-8 (invalid start byte)

A traceback is shown only with `--debug` (or HYDRA_FULL_ERROR=1, as Hydra users expect).
Exit status: 1 for an error, 2 for a bad config (`config.cli_config`), 128 + the signal's
number when stopped by SIGINT (130) or SIGTERM (143). And the options every command that
searches shares (`add_search_options`).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from seq2seq.config.schema import DECODE_PRECISIONS
from seq2seq.training.signals import Stopped


def usage_if_asked(argv: list[str], doc: str) -> None:
    """`-h` / `--help` among `key=value` overrides (which Hydra would read as a malformed
    one): print the command's docstring and exit 0."""
    if {"-h", "--help"} & set(argv):
        print(doc.strip())
        raise SystemExit(0)


def wants_debug(argv: list[str]) -> tuple[list[str], bool]:
    """`argv` without `--debug`, and whether a traceback was asked for."""
    rest = [a for a in argv if a != "--debug"]
    return rest, len(rest) != len(argv) or os.environ.get("HYDRA_FULL_ERROR") == "1"


def one_line(exc: BaseException) -> str:
    """Our own errors already read `path:line: what`; others get their type in front."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (OSError, ValueError, ArithmeticError)):
        return text
    return f"{type(exc).__name__}: {text}"


def run(prog: str, body: Callable[[], None], debug: bool) -> None:
    """Run a command's body; an error becomes one line on stderr and a non-zero exit."""
    # A full disk must not make logging print its own traceback for each record.
    logging.raiseExceptions = debug
    try:
        body()
    except Stopped as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_status) from None
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as exc:  # noqa: BLE001 -- the one place errors become messages
        if debug:
            raise
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        raise SystemExit(1) from None


def stdin_lines() -> Iterator[bytes]:
    """Raw lines of stdin as they arrive, split at b"\\n" only (as files are)."""
    while raw := sys.stdin.buffer.readline():
        yield raw


def write_output(path: Optional[Path], lines: list[str]) -> None:
    """A command's output lines, all at once: to stdout, or to `path`, replaced only once
    complete (never half written). A path that is no regular file (/dev/null, a pipe) is
    written into: replacing it would put a file where the device or pipe was."""
    from seq2seq.training import checkpoint  # here: seq2seq-score runs without loading torch
    text = "".join(line + "\n" for line in lines)
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    elif path.exists() and not path.is_file() and not path.is_dir():
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        checkpoint.write_text_atomic(path, text)


def check_not_inputs(output: Optional[Path], inputs: Iterable[Optional[Path]],
                     option: str) -> None:
    """Refuse to write `output` if it is one of the `inputs` (None: none given) under any
    name (the same path, a symbolic or a hard link): the input would be lost."""
    if output is None or not output.exists():
        return  # what does not exist yet is no input
    for path in inputs:
        if path is not None and path.exists() and os.path.samefile(output, path):
            same = "" if output.resolve() == path.resolve() else f" (the same file as {path})"
            raise ValueError(f"{output}: {option} would overwrite an input{same}; write "
                             "elsewhere")


def output_dir(path: Path, option: str) -> Path:
    """A folder a command writes files into, made if missing; a file there is refused."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: {option} names a file, not a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def add_search_options(p: argparse.ArgumentParser, output: str) -> None:
    """The options of a command on a Translator (or a Captioner): where the `output`s go,
    the decode settings it may change, and the device."""
    p.add_argument("--output", type=Path, help="written only when complete (default stdout)")
    p.add_argument("--beam-size", type=int, help="default: the run's decode.beam_size")
    p.add_argument("--nbest", type=int, default=1)
    p.add_argument("--max-len-b", type=int)
    p.add_argument("--max-len", type=int, help=f"no {output} longer, in pieces (default: "
                                               "the run's decode.max_len)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--precision", choices=DECODE_PRECISIONS,
                   help="default: the run's decode.precision (bf16: about 2x faster; "
                   "int8: CPUs, lossy)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
