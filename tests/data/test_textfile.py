"""Reading text files: plain and xz alike, line ends, invalid UTF-8 named by file and line;
and light enough that the commands reading text start fast."""
from __future__ import annotations

import lzma
import subprocess
import sys

import pytest

from seq2seq.data.textfile import read_lines

from conftest import CORPUS

LINES = ["En el principio", "", "  espacios  ", "ñandú – “comillas”", "último"]


def test_read_lines_plain_and_xz_agree(tmp_path):
    text = "".join(line + "\n" for line in LINES)
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    with lzma.open(tmp_path / "a.txt.xz", "wt", encoding="utf-8") as f:
        f.write(text)
    assert list(read_lines(tmp_path / "a.txt")) == LINES
    assert list(read_lines(tmp_path / "a.txt.xz")) == LINES


def test_read_lines_handles_crlf_and_a_missing_final_newline(tmp_path):
    (tmp_path / "a").write_bytes(b"uno\r\ndos\r\n\r\ntres")
    assert list(read_lines(tmp_path / "a")) == ["uno", "dos", "", "tres"]


def test_bundled_corpus_reads(tmp_path):
    first = next(iter(read_lines(CORPUS / "train.es.xz")))
    assert first and "\n" not in first


@pytest.mark.parametrize("suffix", ["", ".xz"])
def test_invalid_utf8_names_file_and_line(tmp_path, suffix):
    data = "uno\ndos\n".encode() + b"tr\xffes\n" + "cuatro\n".encode()
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(lzma.compress(data) if suffix else data)
    with pytest.raises(ValueError) as exc:
        list(read_lines(path))
    assert f"{path}:3:" in str(exc.value)


def test_scoring_loads_neither_torch_nor_datasets_and_translating_not_datasets():
    code = ("import sys, seq2seq.cli.score, seq2seq.data.textfile; "
            "assert not {'torch', 'datasets'} & set(sys.modules), 'score'; "
            "import seq2seq.tasks.translation.cli; "
            "assert 'datasets' not in sys.modules, 'translate'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
