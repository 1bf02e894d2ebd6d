"""Loading splits (local files or a hub-format dataset), encoding, length filtering,
length-bucketed batches and collation."""
from __future__ import annotations

import json
import lzma

import datasets
import numpy as np
import pytest
import torch

from seq2seq.config.compose import DataConfig
from seq2seq.data.corpus import (collate, encode, hub_split, id_chunks, length_filter, load_split,
                                 make_batches)
from seq2seq.data.tokenizer import BOS, EOS, PAD

from conftest import corpus_lines, write_lines

# ------------------------------------------------------------------ loading splits
def _local(tmp_path, n_src=4, n_tgt=4, xz=False) -> DataConfig:
    src = [f"fuente {i}" for i in range(n_src)]
    tgt = [f"target {i}" for i in range(n_tgt)]
    for lang, lines in (("xx", src), ("yy", tgt)):
        text = "".join(s + "\n" for s in lines)
        if xz:
            (tmp_path / f"train.{lang}.xz").write_bytes(lzma.compress(text.encode()))
        else:
            (tmp_path / f"train.{lang}").write_text(text)
    return DataConfig(local_dir=str(tmp_path), src_lang="xx", tgt_lang="yy")


@pytest.mark.parametrize("xz", [False, True])
def test_load_split_local_files(tmp_path, xz):
    ds = load_split(_local(tmp_path, xz=xz), "train")
    assert set(ds.column_names) == {"src", "tgt"}
    assert list(ds["src"]) == [f"fuente {i}" for i in range(4)]
    assert list(ds["tgt"]) == [f"target {i}" for i in range(4)]
    assert list(load_split(_local(tmp_path, xz=xz), "train", limit=2)["src"]) == [
        "fuente 0", "fuente 1"]


def test_load_split_rereads_changed_files(tmp_path):
    cfg = _local(tmp_path)
    assert len(load_split(cfg, "train")) == 4
    _local(tmp_path, n_src=6, n_tgt=6)
    assert list(load_split(cfg, "train")["src"]) == [f"fuente {i}" for i in range(6)]


def test_mismatched_line_counts_name_both_files_and_counts(tmp_path):
    cfg = _local(tmp_path, n_src=4, n_tgt=3)
    with pytest.raises(ValueError) as exc:
        load_split(cfg, "train")
    msg = str(exc.value)
    assert "train.xx" in msg and "train.yy" in msg and "4" in msg and "3" in msg


def test_missing_split_file_is_named(tmp_path):
    cfg = _local(tmp_path)
    with pytest.raises(FileNotFoundError, match="dev.xx"):
        load_split(cfg, "dev")


def test_hub_path_loads_translation_rows_from_local_files(tmp_path, monkeypatch):
    calls = []
    real_load_dataset = datasets.load_dataset

    def spy(path, *args, **kwargs):
        calls.append(path)
        return real_load_dataset(path, *args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", spy)  # offline: see conftest
    rows = {"train": [("hola", "hello"), ("adiós", "goodbye"), ("sí", "yes")],
            "validation": [("uno", "one")]}
    for split, pairs in rows.items():
        write_lines(tmp_path / f"{split}.jsonl",
                    [json.dumps({"translation": {"es": es, "en": en}}) for es, en in pairs])
    cfg = DataConfig(hub_path=str(tmp_path), local_dir=None, src_lang="es", tgt_lang="en")
    for split, pairs in rows.items():
        ds = load_split(cfg, split)
        assert set(ds.column_names) == {"src", "tgt"}
        assert list(zip(ds["src"], ds["tgt"])) == pairs
    reverse = DataConfig(hub_path=str(tmp_path), local_dir=None, src_lang="en", tgt_lang="es")
    assert list(load_split(reverse, "train")["src"]) == ["hello", "goodbye", "yes"]
    assert calls == [str(tmp_path)] * 3
    assert list(load_split(cfg, "train", limit=2)["tgt"]) == ["hello", "goodbye"]


# ------------------------------------------------------------------ encoding and length filter
def test_length_filter_drops_empty_and_too_long_pairs():
    max_len = 3
    rng = np.random.default_rng(0)
    src = [list(rng.integers(4, 9, n)) + [EOS] for n in (0, 1, 3, 4, 2, 3, 5, 1)]
    tgt = [list(rng.integers(4, 9, n)) for n in (2, 0, 3, 1, 4, 1, 2, 3)]
    ds = datasets.Dataset.from_dict({"src_ids": src, "tgt_ids": tgt})
    keep = length_filter(ds, max_len, "test")
    expected = [i for i, (s, t) in enumerate(zip(src, tgt))
                if 1 <= len(s) - 1 <= max_len and 1 <= len(t) <= max_len]
    assert np.flatnonzero(keep).tolist() == expected == [2, 5, 7]
    kept = [(s.as_py(), t.as_py()) for s_chunk, t_chunk in id_chunks(ds, keep)
            for s, t in zip(s_chunk, t_chunk)]
    assert kept == [(src[i], tgt[i]) for i in expected]


@pytest.mark.parametrize("num_proc", [1, 2])
def test_encoding_in_several_processes_gives_the_same_ids_in_order(tokenizer, num_proc,
                                                                     monkeypatch):
    monkeypatch.setattr("seq2seq.data.corpus.PARALLEL_FROM", 10)  # parallel even on a small slice
    src, tgt = corpus_lines("train", "es", 40), corpus_lines("train", "en", 40)
    ds = encode(datasets.Dataset.from_dict({"src": src, "tgt": tgt}), tokenizer,
                num_proc=num_proc)
    assert ds.column_names == ["src_ids", "tgt_ids"]
    assert ds.features["src_ids"].feature.dtype == "int32"
    assert list(ds["src_ids"]) == tokenizer.encode_source(src)
    assert list(ds["tgt_ids"]) == tokenizer.encode_target(tgt)


# ------------------------------------------------------------------ batches
def _lengths(n=500, seed=0):
    rng = np.random.default_rng(seed)
    src = rng.integers(2, 12, n)
    tgt = np.clip(src + rng.integers(-3, 4, n), 1, None)
    return src, tgt


@pytest.mark.parametrize("max_tokens,max_sentences", [(60, 8), (1000, 16), (5, 100)])
def test_batches_cover_every_index_once_and_respect_the_limits(max_tokens, max_sentences):
    src, tgt = _lengths()
    batches = make_batches(src, tgt, max_tokens=max_tokens, max_sentences=max_sentences,
                           seed=1, epoch=0)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(src)))
    for b in batches:
        assert len(set(src[b].tolist())) == 1  # one source length: no encoder padding
        assert len(b) <= max_sentences
        if len(b) > 1:  # a lone sentence may exceed max_tokens; nothing else may
            assert len(b) * src[b].max() <= max_tokens
            assert len(b) * (tgt[b].max() + 1) <= max_tokens  # bos/eos add one


def test_batches_are_deterministic_per_seed_and_epoch():
    src, tgt = _lengths()
    kw = dict(max_tokens=60, max_sentences=8)

    def key(batches):
        return [b.tolist() for b in batches]

    a = key(make_batches(src, tgt, seed=1, epoch=0, **kw))
    assert a == key(make_batches(src, tgt, seed=1, epoch=0, **kw))
    assert a != key(make_batches(src, tgt, seed=1, epoch=1, **kw))
    assert a != key(make_batches(src, tgt, seed=2, epoch=0, **kw))
    # Not just the order of batches: their contents change too (ties broken at random).
    sets = lambda bs: {frozenset(b) for b in bs}  # noqa: E731
    assert sets(a) != sets(key(make_batches(src, tgt, seed=1, epoch=1, **kw)))


def test_a_single_overlong_sentence_still_forms_a_batch():
    src, tgt = np.array([50, 3, 3]), np.array([50, 2, 2])
    batches = make_batches(src, tgt, max_tokens=10, max_sentences=4, seed=0, epoch=0)
    assert sorted(map(sorted, (b.tolist() for b in batches))) == [[0], [1, 2]]


def test_collate_shapes_and_padding():
    src = [[5, 6, EOS], [7, EOS], [8, 9, 10, 11, EOS]]
    tgt = [[4, 5], [6, 7, 8, 9], [10]]
    b = collate(src, tgt)
    assert b.src.values.shape == (3, 5) and b.tgt_in.shape == b.tgt_out.shape == (3, 5)
    assert b.src.lens.tolist() == [3, 2, 5] and b.size == 3
    assert b.n_tokens == sum(len(t) + 1 for t in tgt)
    for i, (s, t) in enumerate(zip(src, tgt)):
        assert b.src.values[i].tolist() == s + [PAD] * (5 - len(s))
        assert b.tgt_in[i].tolist() == [BOS] + t + [PAD] * (4 - len(t))
        assert b.tgt_out[i].tolist() == t + [EOS] + [PAD] * (4 - len(t))
    # Teacher forcing: the input at t+1 is the output at t.
    word = ((b.tgt_out != PAD) & (b.tgt_out != EOS))[:, :-1]
    assert torch.equal(b.tgt_in[:, 1:][word], b.tgt_out[:, :-1][word])
    moved = b.to(torch.device("cpu"))
    assert all(torch.equal(x, y) for x, y in zip(
        (*moved.src, moved.tgt_in, moved.tgt_out), (*b.src, b.tgt_in, b.tgt_out)))


def _batches_before_numpy(src_lens, tgt_lens, *, max_tokens, max_sentences, seed, epoch):
    """make_batches as it was, one Python step per sentence: the reference for the numpy one
    (the same seed must give the same batches, so resumed and old runs see the same data)."""
    rng = np.random.default_rng([seed, epoch])
    order = np.lexsort((rng.random(len(src_lens)), tgt_lens, src_lens))
    batches, start = [], 0
    while start < len(order):
        end, longest = start, 0
        s_len = src_lens[order[start]]
        while end < len(order) and src_lens[order[end]] == s_len:
            longest = max(s_len, tgt_lens[order[end]] + 1)
            if (end - start + 1) * longest > max_tokens or end - start >= max_sentences:
                break
            end += 1
        end = max(end, start + 1)
        batches.append(order[start:end])
        start = end
    rng.shuffle(batches)
    return batches


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_batches_equal_the_per_sentence_reference_on_the_bundled_corpus():
    """Real length distribution (the bundled verses, in words), the demo's caps."""
    src = np.array([len(s.split()) + 1 for s in corpus_lines("train", "es", 30_000)])
    tgt = np.array([len(s.split()) for s in corpus_lines("train", "en", 30_000)])
    for seed, epoch, max_sentences in ((1, 0, 32), (1, 3, 32), (7, 0, 128)):
        kw = dict(max_tokens=4000, max_sentences=max_sentences, seed=seed, epoch=epoch)
        assert _same(make_batches(src, tgt, **kw), _batches_before_numpy(src, tgt, **kw))


def test_batches_equal_the_per_sentence_reference_on_random_lengths():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(0, 300))
        src, tgt = rng.integers(1, 30, n), rng.integers(0, 40, n)
        kw = dict(max_tokens=int(rng.integers(1, 300)), max_sentences=int(rng.integers(1, 50)),
                  seed=int(rng.integers(0, 5)), epoch=int(rng.integers(0, 3)))
        assert _same(make_batches(src, tgt, **kw), _batches_before_numpy(src, tgt, **kw))


def test_a_hub_split_missing_a_column_is_one_line_naming_the_keys(tmp_path):
    """The hub loader every task shares: the split's name, its columns, the config keys."""
    hub = tmp_path / "hub"
    hub.mkdir()
    datasets.Dataset.from_dict({"sentence": ["a b"], "label": [1]}).to_parquet(
        str(hub / "train.parquet"))
    ds, where = hub_split(str(hub), None, "train", {"data.text_column": "sentence"})
    assert ds["sentence"] == ["a b"] and where == f"{hub}[train]"
    with pytest.raises(ValueError) as exc:
        hub_split(str(hub), None, "train", {"data.text_column": "text",
                                            "data.label_column": "label"})
    assert str(exc.value) == (f"{hub}[train]: no column 'text' (columns: sentence, label; "
                              "data.text_column, data.label_column name them)")
