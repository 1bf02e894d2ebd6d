"""Labelled text: every layout reads the same examples, and bad input names file, line and
column in one line."""
from __future__ import annotations

import json
import lzma
from pathlib import Path

import pytest

from conftest import REPO
from seq2seq.tasks.classification.labelled import (check_labels, find_labelled, label_set,
                                                   read_labelled)

ROOT = REPO
EXAMPLES = [("A fine, \"warm\" film.", "pos"), ("Dull.", "neg"), ("Not bad at all", "pos")]


def _write(directory: Path, layout: str) -> Path:
    if layout == "tsv":
        path = directory / "train.tsv"
        path.write_text("id\ttext\tlabel\n" + "".join(f"{i}\t{t}\t{lab}\n" for i, (t, lab)
                                                     in enumerate(EXAMPLES)))
    elif layout == "csv.xz":
        rows = "".join(f'"{t.replace(chr(34), chr(34) * 2)}",{lab}\n' for t, lab in EXAMPLES)
        path = directory / "train.csv.xz"
        path.write_bytes(lzma.compress(("text,label\n" + rows).encode()))
    elif layout == "jsonl":
        path = directory / "train.jsonl"
        path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n"
                                for t, lab in EXAMPLES))
    else:  # aclImdb: one file a text, the folder its label
        for i, (t, lab) in enumerate(EXAMPLES):
            (directory / "train" / lab).mkdir(parents=True, exist_ok=True)
            (directory / "train" / lab / f"{i}_7.txt").write_text(t + "\n")
        path = directory / "train"
    return path


@pytest.mark.parametrize("layout", ["tsv", "csv.xz", "jsonl", "folders"])
def test_every_layout_reads_the_same_examples(tmp_path, layout):
    path = _write(tmp_path, layout)
    assert find_labelled(tmp_path, "train") == path
    got = [(text, label) for _, text, label in read_labelled(path, "text", "label")]
    if layout == "folders":  # labels, then files, in sorted order
        assert sorted(got) == sorted(EXAMPLES)
    else:
        assert got == EXAMPLES


def test_the_bundled_movie_snippets_read(tmp_path):
    path = find_labelled(ROOT / "data" / "sentiment-movies", "test")
    examples = list(read_labelled(path, "text", "label"))
    assert len(examples) == 1005 and label_set(examples) == ["neg", "pos"]
    assert sum(label == "pos" for _, _, label in examples) == 492


def test_labels_sort_numbers_by_value():
    examples = [("f", "t", label) for label in ["10", "2", "-1", "2"]]
    assert label_set(examples) == ["-1", "2", "10"]


@pytest.mark.parametrize("content,message", [
    ("txt\tlabel\nhello\tpos\n", "train.tsv:1: no column 'text' (columns: txt, label)"),
    ("text\tlabel\n\tpos\n", "train.tsv:2: empty text in 'text'"),
    ("text\tlabel\nhello\t\n", "train.tsv:2: empty label"),
    ("text\tlabel\nhello\tpos\textra\n", "train.tsv:2: 3 fields, the header has 2"),
    ("", "train.tsv: empty (a header line naming the columns comes first)"),
])
def test_bad_input_is_one_line_naming_file_line_and_column(tmp_path, content, message):
    path = tmp_path / "train.tsv"
    path.write_text(content)
    with pytest.raises(ValueError) as err:
        list(read_labelled(path, "text", "label"))
    assert str(err.value) == f"{tmp_path}/{message}"


@pytest.mark.parametrize("content,line", [
    ('text,label\nfine,pos\n"two\nlines",neg\n', 3),   # the rest of the record: 1 field
    ('label,text\npos,"two\nlines"\nneg,fine\n', 2),   # 2 fields, as the header: read
])
def test_a_quoted_line_break_in_a_csv_is_named_as_such(tmp_path, content, line):
    path = tmp_path / "train.csv"
    path.write_text(content)
    with pytest.raises(ValueError) as err:
        list(read_labelled(path, "text", "label"))
    assert str(err.value) == (f"{path}:{line}: a quoted field runs past the end of the line "
                              "(a line break inside quotes): one record a line")


def test_a_tsv_text_may_open_a_quote_it_never_closes(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text('text\tlabel\n"an open quote\tpos\nand "another\tneg\n')
    assert [(text, label) for _, text, label in read_labelled(path, "text", "label")] == [
        ('"an open quote', "pos"), ('and "another', "neg")]


def test_invalid_utf8_and_bad_json_name_the_line(tmp_path):
    (tmp_path / "a.tsv").write_bytes(b"text\tlabel\nok\tpos\n\xff\tneg\n")
    with pytest.raises(ValueError, match=r"a.tsv:3: invalid UTF-8"):
        list(read_labelled(tmp_path / "a.tsv", "text", "label"))
    (tmp_path / "b.jsonl").write_text('{"text": "x", "label": "pos"}\n{"text": "y"}\n')
    with pytest.raises(ValueError, match=r"b.jsonl:2: no key 'label'$"):
        list(read_labelled(tmp_path / "b.jsonl", "text", "label"))


def test_a_label_training_never_saw_is_named(tmp_path):
    train = [("t:2", "a", "pos"), ("t:3", "b", "neg")]
    check_labels([("d:2", "c", "neg")], label_set(train))
    with pytest.raises(ValueError, match=r"^d:4: label 'neutral' is not one of the training "
                                         r"labels \(neg, pos\)$"):
        check_labels([("d:2", "c", "neg"), ("d:3", "c", "pos"), ("d:4", "c", "neutral")],
                     label_set(train))


def test_a_missing_split_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="train: no such labelled file"):
        find_labelled(tmp_path, "train")


def test_aclimdbs_unlabelled_folder_is_not_a_label(tmp_path):
    path = _write(tmp_path, "folders")
    (path / "unsup").mkdir()
    (path / "unsup" / "0_0.txt").write_text("An unlabelled review.\n")
    assert {label for _, _, label in read_labelled(path, "text", "label")} == {"pos", "neg"}
