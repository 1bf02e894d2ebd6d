"""seq2seq-prepare: what it writes, when it reuses, and that training data is filtered."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from seq2seq.cli import prepare as prepare_cli
from seq2seq.config.compose import load_config
from seq2seq.data import prepare as prepare_mod
from seq2seq.data.locks import locked
from seq2seq.data.prepare import prepare, prepared_path
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.textfile import read_lines
from seq2seq.data.tokenizer import EOS, Tokenizer
from seq2seq.data.tokens import PairArrays
from seq2seq.tasks.translation import prepare as pairs_mod

from conftest import console_script, write_lines


def test_writes_exactly_the_files_prepared_dir_names(tiny_config, tiny_corpus):
    cfg = tiny_config("data.extra_ref_langs=[en-kjv]")
    out = prepare(cfg)
    assert out == PreparedDir(prepared_path(cfg))
    # every file PreparedDir names is there, and nothing it does not name (encoding/ is gone)
    assert set(out.root.iterdir()) == {
        out.src_model, out.tgt_model, out.train, out.dev, out.dev_src, out.dev_ref,
        out.test_src, out.test_ref, out.extra_test_ref(1), out.settings}
    raw = {out.dev_src: "dev.es", out.dev_ref: "dev.en", out.test_src: "test.es",
           out.test_ref: "test.en", out.extra_test_ref(1): "test.en-kjv"}
    for path, corpus_file in raw.items():
        assert path.read_text().splitlines() == list(read_lines(tiny_corpus / corpus_file))
    settings = json.loads(out.settings.read_text())
    assert settings["reverse_source"] is True and settings["tokenizer"]["src_vocab_size"] == 120
    # no .partial left behind; the lock stays (removing it would race)
    assert sorted(out.root.parent.iterdir()) == [out.root, out.lock]
    assert Tokenizer.load(out.spm).src.serialized_model_proto() == out.src_model.read_bytes()


def test_what_a_killed_preparation_left_is_not_kept(tiny_config):
    """A preparation killed half way leaves its `.partial` sibling; the next one starts
    afresh: a stale extra reference it would not write does not survive into the result."""
    cfg = tiny_config("data.extra_ref_langs=[]")
    out = PreparedDir(prepared_path(cfg))
    assert out.partial.root.parent == out.root.parent  # one filesystem: the rename is atomic
    out.partial.root.mkdir(parents=True)
    out.partial.extra_test_ref(1).write_text("left by a killed preparation\n")
    assert prepare(cfg) == out and out.settings.is_file()
    assert not out.extra_test_ref(1).exists()
    assert sorted(out.root.parent.iterdir()) == [out.root, out.lock]  # the .partial is gone


def test_second_call_reuses_without_reading_the_corpus(tiny_config, monkeypatch):
    cfg = tiny_config()
    out = prepare(cfg)
    stamp = out.settings.stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("corpus read again")

    monkeypatch.setattr(pairs_mod, "load_split", fail)
    assert prepare(cfg) == out
    assert out.settings.stat().st_mtime_ns == stamp


def test_a_joint_tokenizer_is_one_model_for_both_sides(tiny_config):
    out = prepare(tiny_config("tokenizer=bpe", "tokenizer.src_vocab_size=150",
                              "tokenizer.tgt_vocab_size=150"))
    assert out.src_model.read_bytes() == out.tgt_model.read_bytes()


@pytest.mark.parametrize("change", ["model.reverse_source=false", "tokenizer.model_type=bpe",
                                    "data.max_len=20", "tokenizer.seed=2"])
def test_settings_that_change_the_data_get_their_own_directory(tiny_config, change):
    assert prepared_path(tiny_config(change)) != prepared_path(tiny_config())


def stored(split_dir) -> list[tuple[list[int], list[int]]]:
    data = PairArrays(split_dir)
    return [data.pair(i) for i in range(len(data))]


def test_another_training_seed_shares_the_preparation(tiny_config):
    """Runs that differ only in their training seed have one vocabulary (ensembles)."""
    assert prepared_path(tiny_config("trainer.seed=2")) == prepared_path(tiny_config())


def test_training_pairs_are_filtered_by_length(tiny_config, tiny_corpus):
    src = list(read_lines(tiny_corpus / "train.es"))
    tgt = list(read_lines(tiny_corpus / "train.en"))
    # The tokenizer does not depend on max_len: learn the lengths, then pick a max_len
    # that some pairs meet exactly on either side (the boundary must be kept).
    tok = Tokenizer.load(prepare(tiny_config()).spm)
    lens = [(len(a), len(b)) for a, b in zip(tok.src.encode(src), tok.tgt.encode(tgt))]
    max_len = next(n for n in range(15, 60)
                   if any(s == n and t < n for s, t in lens)
                   and any(t == n and s < n for s, t in lens))
    out = prepare(tiny_config(f"data.max_len={max_len}"))
    assert Tokenizer.load(out.spm).src.serialized_model_proto() == tok.src.serialized_model_proto()
    keep = [(a, b) for a, b, (s, t) in zip(src, tgt, lens)
            if 0 < s <= max_len and 0 < t <= max_len]
    train = stored(out.train)
    assert 0 < len(train) < len(src)  # the limit bites, and not on everything
    kept_src, kept_tgt = zip(*keep)
    assert train == list(zip(tok.encode_source(list(kept_src)),
                             tok.encode_target(list(kept_tgt))))
    assert all(s[-1] == EOS and len(s) <= max_len + 1 for s, _ in train)


def test_a_changed_corpus_is_prepared_again(tiny_config, tiny_corpus, tmp_path):
    """prepare.py promises "a stale preparation is never reused"."""
    corpus = tmp_path / "corpus"
    for f in tiny_corpus.iterdir():
        write_lines(corpus / f.name, list(read_lines(f)))
    cfg = tiny_config(f"data.local_dir={corpus}")
    first = stored(prepare(cfg).train)[0][0]
    train_es = list(read_lines(corpus / "train.es"))
    write_lines(corpus / "train.es", ["Y dijo Dios: Sea la luz."] + train_es[1:])
    out = prepare(cfg)
    again = stored(out.train)[0][0]
    assert first != again == Tokenizer.load(out.spm).encode_source(["Y dijo Dios: Sea la luz."])[0]


def test_changed_encoding_code_is_not_served_from_a_cache(tiny_config, tmp_path, monkeypatch):
    """A fresh preparation encodes with the code of today, not ids cached by an older one.

    (Say encode_source had reversed twice and was fixed: deleting data/prepared must be
    enough to get the fixed ids.)
    """
    prepare(tiny_config())  # ids encoded by the real encode_source, as a user would have
    monkeypatch.setattr(Tokenizer, "encode_source",
                        lambda self, texts: [[5, 6, 7, EOS] for _ in texts])
    fresh = tiny_config(f"data.prepared_dir={tmp_path / 'fresh'}")
    ids = [s for s, _ in stored(prepare(fresh).train)]
    assert ids and all(s == [5, 6, 7, EOS] for s in ids)


def test_a_preparation_in_an_older_format_is_rebuilt_not_read(tiny_config, monkeypatch):
    """The key covers the storage format: a directory written before flat token arrays (a
    `datasets` folder under the same settings) is never opened as the new format."""
    cfg = tiny_config()
    new = prepared_path(cfg)
    monkeypatch.setattr(prepare_mod, "FORMAT", "arrow-datasets")
    assert prepared_path(cfg) != new


def test_the_encoding_cache_is_not_left_behind(tiny_config):
    out = prepare(tiny_config())
    assert not out.encoding.exists()
    assert sorted(p.name for p in out.train.iterdir()) == [
        "meta.json", "src.ids", "src.lens", "src.offsets", "tgt.ids", "tgt.lens", "tgt.offsets"]


@pytest.mark.parametrize("joint", [False, True])
def test_sentencepiece_learns_from_a_sample_of_the_corpus(tiny_config, joint, monkeypatch):
    """input_sentence_size caps what sentencepiece reads, drawn at random from the corpus
    (never only its first lines), half from each side for a joint model."""
    seen: list[list[str]] = []
    real = pairs_mod.train_spm

    def spy(sentences, *args, **kwargs):
        seen.append(list(sentences))
        return real(seen[-1], *args, **kwargs)

    monkeypatch.setattr(pairs_mod, "train_spm", spy)
    # 200 of the 300 training pairs (sentencepiece itself refuses a cap of 100 or less)
    cfg = tiny_config("tokenizer.input_sentence_size=200", f"tokenizer.joint={str(joint).lower()}")
    prepare(cfg)
    assert [len(s) for s in seen] == ([200] if joint else [200, 200])
    train_es = list(read_lines(Path(cfg.data.local_dir) / "train.es"))
    from_es = seen[0][:100] if joint else seen[0]
    assert set(from_es) <= set(train_es) and from_es != train_es[:len(from_es)]


def test_cli_config_error_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        prepare_cli.main(["data.no_such_key=1"])
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "data.no_such_key" in err


@pytest.mark.parametrize("below", ["", "sub/dir"])
def test_a_prepared_dir_that_is_a_file_names_the_config_key(tiny_config, tmp_path, below):
    """data.prepared_dir, or a folder above it, is a file: one line naming the key, and
    nothing created beside it."""
    file = tmp_path / "es.txt"
    file.write_text("not a folder\n")
    cfg = tiny_config(f"data.prepared_dir={file / below}")
    before = set(tmp_path.iterdir())
    with pytest.raises(ValueError) as info:
        prepare(cfg)
    assert str(info.value) == f"config key 'data.prepared_dir': {file} is a file, not a directory"
    assert set(tmp_path.iterdir()) == before and file.read_text() == "not a folder\n"


def test_cli_prepared_dir_that_is_a_file_is_one_line(tiny_config, tmp_path, capsys):
    (tmp_path / "es.txt").write_text("x\n")
    cfg = tiny_config(f"data.prepared_dir={tmp_path / 'es.txt'}")
    with pytest.raises(SystemExit) as exc:
        prepare_cli.run_cli("seq2seq-prepare", lambda: prepare(cfg), False)
    assert exc.value.code == 1
    assert capsys.readouterr().err == (f"seq2seq-prepare: error: config key 'data.prepared_dir': "
                                       f"{tmp_path / 'es.txt'} is a file, not a directory\n")


def test_a_preparation_under_way_elsewhere_is_waited_for_then_reused(tiny_corpus, tmp_path):
    """Two runs started together on the same data: the second waits for the first's
    preparation (its lock), then reuses it, rather than deleting the first's files as it
    writes them. The test holds the lock and prepares, as the first process would."""
    overrides = [f"data.local_dir={tiny_corpus}", f"data.prepared_dir={tmp_path / 'p'}",
                 "data.extra_ref_langs=[]", "tokenizer.src_vocab_size=120",
                 "tokenizer.tgt_vocab_size=120"]
    cfg = load_config(overrides)
    out = PreparedDir(prepared_path(cfg))
    with locked(out.lock):
        second = subprocess.Popen([console_script("seq2seq-prepare"), *overrides], cwd=tmp_path,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(4)  # it starts, composes its config and reaches the lock
        assert second.poll() is None, "it did not wait"
        assert not out.partial.root.exists()
        prepare_mod._prepare(cfg, out)
    stdout, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr[-2000:]
    assert stdout.strip() == str(out.root) and "(reused)" in stderr
