"""Tagged files (CoNLL-U, CoNLL columns, JSONL, a hub dataset on local Parquet) read into
sentences, and bad input named in one line; the preparation's vocabularies and arrays."""
from __future__ import annotations

import json
import lzma
from pathlib import Path

import datasets
import numpy as np
import pytest

from conftest import REPO, tagged_sentences, write_conll, write_lines
from seq2seq.config.compose import load_config
from seq2seq.data.prepare import prepare
from seq2seq.data.tokenizer import PAD, UNK, Tokenizer
from seq2seq.tasks.tagging.arrays import IGNORED, TaggedArrays
from seq2seq.tasks.tagging.formats import read_tagged, split_slice
from seq2seq.tasks.tagging.vocab import TokenEncoder

EWT = REPO / "data" / "ud-english-ewt"
CONLLU = """# sent_id = 1
# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No|NER=O
3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t3:x\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\tNER=O

1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\tNER=O
"""


def test_conllu_words_skip_ranges_and_empty_nodes(tmp_path):
    path = tmp_path / "a.conllu"
    path.write_text(CONLLU)
    (where, tokens, tags), (where2, *_) = read_tagged(path, "upos")
    assert tokens == ["Do", "n't", "go", "."] and tags == ["AUX", "PART", "VERB", "PUNCT"]
    assert where == f"{path}:4" and where2 == f"{path}:10"
    assert next(read_tagged(path, "xpos"))[2] == ["VBP", "RB", "VB", "."]
    with pytest.raises(ValueError, match=rf"{path}:4: no misc:NER tag"):
        list(read_tagged(path, "misc:NER"))


def test_the_bundled_treebank_reads_as_its_readme_counts():
    for split, sentences, tokens in (("dev", 2001, 25147), ("test", 2077, 25094)):
        got = list(read_tagged(EWT / f"{split}.conllu.xz", "upos"))
        assert (len(got), sum(len(t) for _, t, _ in got)) == (sentences, tokens)
    ner = list(read_tagged(EWT / "uner-test.iob2.xz", "tags", 1, 2))
    assert len(ner) == 2077 and {t for _, _, tags in ner for t in tags} == {
        "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"}


def test_conll_columns_skip_comments_and_docstart(tmp_path):
    path = write_lines(tmp_path / "a.iob2", ["-DOCSTART- -X- O O", "", "# a comment",
                                             "EU NNP B-ORG", "rejects VBZ O", "",
                                             "", "Peter NNP B-PER", ""])
    got = list(read_tagged(path, "tags", 0, -1))
    assert got == [(f"{path}:4", ["EU", "rejects"], ["B-ORG", "O"]),
                   (f"{path}:8", ["Peter"], ["B-PER"])]


@pytest.mark.parametrize("lines, message", [
    (["a\tO", "b\tO\tx"], ":2: 3 columns, the file's first token line has 2"),
    (["a"], ":1: no column 2"),
])
def test_a_conll_line_with_other_columns_is_named(tmp_path, lines, message):
    path = write_lines(tmp_path / "a.conll", lines)
    with pytest.raises(ValueError, match=message):
        list(read_tagged(path, "tags", 0, 2 if len(lines) == 1 else -1))


def test_a_conllu_line_with_other_columns_is_named(tmp_path):
    path = tmp_path / "a.conllu"
    path.write_text(CONLLU.replace("2\tn't\tnot\tPART", "2\tn't\tPART"))
    with pytest.raises(ValueError, match=rf"{path}:5: 9 tab-separated columns, CoNLL-U has 10"):
        list(read_tagged(path, "upos"))


@pytest.mark.parametrize("record, message", [
    ({"tokens": [], "tags": []}, "an empty sentence"),
    ({"tokens": ["a", "b"], "tags": ["X"]}, "2 tokens but 1 tags"),
    ({"tokens": ["a b"], "tags": ["X"]}, "a token is a non-empty string without spaces"),
    ({"tokens": ["a"], "tags": [""]}, "a tag is a non-empty string"),
    ({"words": ["a"], "tags": ["X"]}, "no list under 'tokens'"),
])
def test_bad_jsonl_sentences_are_named(tmp_path, record, message):
    path = write_lines(tmp_path / "a.jsonl", [json.dumps({"tokens": ["ok"], "tags": ["X"]}),
                                              json.dumps(record)])
    with pytest.raises(ValueError, match=f"{path}:2: .*{message}"):
        list(read_tagged(path, "tags"))


def test_split_slices():
    assert split_slice("uner-dev[:1800]") == ("uner-dev", slice(None, 1800))
    assert split_slice("uner-dev[1800:]") == ("uner-dev", slice(1800, None))
    assert split_slice("dev") == ("dev", slice(None))


# ------------------------------------------------------------------ the preparation
def corpus(tmp_path: Path, seeds=(1, 2, 3), n=(200, 40, 40)) -> Path:
    data = tmp_path / "data"
    for split, seed, count in zip(("train", "dev", "test"), seeds, n):
        write_conll(data / f"{split}.iob2", tagged_sentences(count, seed))
    return data


def config(tmp_path: Path, data: Path, *more: str):
    return load_config(["experiment=uner", f"data.local_dir={data}", "data.train_split=train",
                        "data.dev_split=dev", "data.test_split=test",
                        f"data.prepared_dir={tmp_path / 'prepared'}", *more])


def test_preparation_writes_vocabularies_arrays_and_lines(tmp_path):
    data = corpus(tmp_path)
    prepared = prepare(config(tmp_path, data, "data.min_count=2"))
    tags = prepared.labels.read_text().split()
    assert tags == ["CAP", "DET", "NOUN", "NUM", "OTHER"]
    tok = Tokenizer.load(prepared.spm, reverse_source=False)
    enc = TokenEncoder.of(tok, lowercase=False, max_chars=24)
    rows = enc.rows(["the", "Zzqx"])
    assert rows[0, 0] not in (PAD, UNK) and rows[1, 0] == UNK  # below the cut: <unk>
    assert (rows[1, 1:5] != PAD).all() and rows[0, 4] == PAD  # spelled either way
    dev = tagged_sentences(40, 2)
    assert prepared.dev_src.read_text().splitlines() == [" ".join(t) for t, _ in dev]
    assert prepared.dev_ref.read_text().splitlines() == [" ".join(g) for _, g in dev]
    arrays = TaggedArrays(prepared.dev)
    assert len(arrays) == 40 and [tags[t] for t in arrays.tags_of(3)] == dev[3][1]
    b = arrays.collate(np.array([0, 1]))
    assert b.src.values.shape[:2] == b.tags.shape and b.n_units == len(dev[0][0]) + len(dev[1][0])
    short = int(b.src.lens.argmin())
    assert (b.tags[short, int(b.src.lens[short]):] == IGNORED).all()
    assert (b.src.values[short, int(b.src.lens[short]):] == PAD).all()
    # the rows equal what the encoder makes of the tokens at inference
    first = enc.rows(dev[0][0])
    assert (b.src.values[0, : len(dev[0][0]), : first.shape[1]].numpy() == first).all()


def test_a_dev_tag_training_never_saw_is_named(tmp_path):
    data = corpus(tmp_path)
    text = (data / "dev.iob2").read_text().replace("\tNUM", "\tNUMBER", 1)
    (data / "dev.iob2").write_text(text)
    lines = text.splitlines()
    bad = next(i for i, s in enumerate(lines) if s.endswith("NUMBER"))
    start = next(i for i in range(bad, -1, -1) if i == 0 or not lines[i - 1]) + 1
    with pytest.raises(ValueError, match=f"dev.iob2:{start}: token {bad + 2 - start}: tag "
                                         "'NUMBER' is not one of the 5 training tags"):
        prepare(config(tmp_path, data))


def test_a_hub_dataset_with_a_class_label_sequence(tmp_path):
    """conll2003's shape: tokens and ner_tags as a Sequence(ClassLabel), on local Parquet."""
    hub = tmp_path / "hub"
    hub.mkdir()
    names = ["CAP", "DET", "NOUN", "NUM", "OTHER"]
    features = datasets.Features({
        "id": datasets.Value("string"),
        "tokens": datasets.Sequence(datasets.Value("string")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))})
    for split, seed in (("train", 1), ("validation", 2), ("test", 3)):
        rows = tagged_sentences(30, seed)
        datasets.Dataset.from_dict({
            "id": [str(i) for i in range(30)], "tokens": [t for t, _ in rows],
            "ner_tags": [[names.index(g) for g in tags] for _, tags in rows]},
            features=features).to_parquet(str(hub / f"{split}.parquet"))
    cfg = load_config(["experiment=uner", "data.local_dir=null", f"data.hub_path={hub}",
                       "data.tags_column=ner_tags", "data.train_split=train",
                       "data.dev_split=validation", "data.test_split=test",
                       f"data.prepared_dir={tmp_path / 'prepared'}"])
    prepared = prepare(cfg)
    assert prepared.dev_ref.read_text().splitlines() == [
        " ".join(tags) for _, tags in tagged_sentences(30, 2)]


def test_a_missing_split_file_is_named(tmp_path):
    data = corpus(tmp_path)
    (data / "test.iob2").unlink()
    with pytest.raises(FileNotFoundError, match=f"{data / 'test'}: no such tagged file"):
        prepare(config(tmp_path, data))


def test_xz_files_read_as_plain_ones(tmp_path):
    data = corpus(tmp_path)
    plain = list(read_tagged(data / "dev.iob2", "t", 1, 2))
    (data / "dev.iob2.xz").write_bytes(lzma.compress((data / "dev.iob2").read_bytes()))
    assert [s[1:] for s in read_tagged(data / "dev.iob2.xz", "t", 1, 2)] == [
        s[1:] for s in plain]


def test_without_the_tag_extra_conllu_is_one_line_naming_it(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "conllu", None)  # as if not installed
    path = tmp_path / "a.conllu"
    path.write_text(CONLLU)
    with pytest.raises(ImportError, match=r"reading CoNLL-U needs conllu, which is not "
                                          r"installed: pip install 'seq2seq\[tag\]'"):
        list(read_tagged(path, "upos"))
