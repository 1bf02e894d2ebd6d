"""Loading splits (local files or a hub-format dataset), length filtering,
length-bucketed batches and collation."""
from __future__ import annotations

import json
import lzma
from itertools import chain

import datasets
import numpy as np
import pytest
import torch

from seq2seq.config import DataConfig
from seq2seq.data import ParallelIds, collate, filter_by_length, load_split, make_batches
from seq2seq.tokenizer import BOS, EOS, PAD

from conftest import CORPUS, write_lines

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


# ------------------------------------------------------------------ length filter
def test_filter_by_length_drops_empty_and_too_long_pairs():
    max_len = 3
    rng = np.random.default_rng(0)
    src = [list(rng.integers(4, 9, n)) + [EOS] for n in (0, 1, 3, 4, 2, 3, 5, 1)]
    tgt = [list(rng.integers(4, 9, n)) for n in (2, 0, 3, 1, 4, 1, 2, 3)]
    ds = datasets.Dataset.from_dict({"src_ids": src, "tgt_ids": tgt,
                                     "row": list(range(len(src)))})
    kept = filter_by_length(ds, max_len, "test")
    expected = [i for i, (s, t) in enumerate(zip(src, tgt))
                if 1 <= len(s) - 1 <= max_len and 1 <= len(t) <= max_len]
    assert list(kept["row"]) == expected == [2, 5, 7]


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


def test_collated_batches_hold_at_most_max_tokens_padded_tokens():
    rng = np.random.default_rng(3)
    src = [list(rng.integers(4, 20, n)) + [EOS] for n in rng.integers(1, 10, 300)]
    tgt = [list(rng.integers(4, 20, n)) for n in rng.integers(1, 12, 300)]
    data = ParallelIds(datasets.Dataset.from_dict({"src_ids": src, "tgt_ids": tgt}))
    for index in data.batches(max_tokens=40, max_sentences=6, seed=0, epoch=0):
        b = data.collate(index)
        assert bool((b.src_lens == b.src_ids.size(1)).all())
        assert b.src_ids.numel() <= 40 and b.tgt_in.numel() <= 40 and len(index) <= 6


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
    assert b.src_ids.shape == (3, 5) and b.tgt_in.shape == b.tgt_out.shape == (3, 5)
    assert b.src_lens.tolist() == [3, 2, 5]
    assert b.n_tokens == sum(len(t) + 1 for t in tgt)
    for i, (s, t) in enumerate(zip(src, tgt)):
        assert b.src_ids[i].tolist() == s + [PAD] * (5 - len(s))
        assert b.tgt_in[i].tolist() == [BOS] + t + [PAD] * (4 - len(t))
        assert b.tgt_out[i].tolist() == t + [EOS] + [PAD] * (4 - len(t))
    # Teacher forcing: the input at t+1 is the output at t.
    word = ((b.tgt_out != PAD) & (b.tgt_out != EOS))[:, :-1]
    assert torch.equal(b.tgt_in[:, 1:][word], b.tgt_out[:, :-1][word])
    moved = b.to(torch.device("cpu"))
    assert all(torch.equal(x, y) for x, y in zip(
        (moved.src_ids, moved.src_lens, moved.tgt_in, moved.tgt_out),
        (b.src_ids, b.src_lens, b.tgt_in, b.tgt_out)))


def test_parallel_ids_collate_matches_the_stored_rows():
    src = [[5, 6, EOS], [7, EOS], [8, EOS]]
    tgt = [[4], [6, 7], [9, 9, 9]]
    data = ParallelIds(datasets.Dataset.from_dict({"src_ids": src, "tgt_ids": tgt}))
    assert len(data) == 3 and data.src_lens.tolist() == [3, 2, 2]
    b = data.collate(np.array([2, 1]))
    assert b.src_ids.tolist() == [[8, EOS], [7, EOS]]
    assert list(chain.from_iterable(r[r != PAD].tolist() for r in b.tgt_out)) == [
        9, 9, 9, EOS, 6, 7, EOS]
