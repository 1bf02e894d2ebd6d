"""Flat token arrays on disk: what is written is what is read, memory-mapped, and a batch
collated from the maps equals one collated from the same sentences as lists."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from seq2seq.data.corpus import collate
from seq2seq.data.tokenizer import EOS
from seq2seq.data.tokens import PairArrays, id_dtype, write_pairs


def _random_pairs(n: int, vocab: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    src = [rng.integers(4, vocab, k).tolist() + [EOS] for k in rng.integers(1, 12, n)]
    tgt = [rng.integers(4, vocab, k).tolist() for k in rng.integers(1, 14, n)]
    return src, tgt


def _write(directory, src, tgt, vocab: int, chunk: int = 7) -> PairArrays:
    ids = pa.list_(pa.int32())
    chunks = ((pa.array(src[i:i + chunk], ids), pa.array(tgt[i:i + chunk], ids))
              for i in range(0, len(src), chunk))
    assert write_pairs(directory, chunks, {"src": id_dtype(vocab), "tgt": id_dtype(vocab)}) \
        == len(src)
    return PairArrays(directory)


@pytest.mark.parametrize("vocab,dtype", [(2000, np.uint16), (65_536, np.uint16),
                                         (80_000, np.int32)])
def test_pairs_read_back_as_written_in_the_narrowest_dtype(tmp_path, vocab, dtype):
    src, tgt = _random_pairs(50, vocab)
    data = _write(tmp_path / "train", src, tgt, vocab)
    assert len(data) == 50 and data.src.ids.dtype == dtype and data.tgt.ids.dtype == dtype
    assert [data.pair(i) for i in range(50)] == list(zip(src, tgt))
    assert data.src_lens.tolist() == [len(s) for s in src]
    assert data.tgt_lens.tolist() == [len(t) for t in tgt]
    # on disk, mapped: nothing per sentence in the process's own memory
    assert all(isinstance(a, np.memmap) for side in (data.src, data.tgt)
               for a in (side.ids, side.lens, side.offsets))
    assert (tmp_path / "train" / "src.ids").stat().st_size == \
        sum(map(len, src)) * np.dtype(dtype).itemsize


def test_a_batch_from_the_maps_equals_one_from_lists(tmp_path):
    src, tgt = _random_pairs(60, 500, seed=1)
    data = _write(tmp_path / "train", src, tgt, 500)
    for index in (np.array([3, 0, 59, 17]), np.array([5]), np.arange(60)[::-1]):
        mapped = data.collate(index)
        listed = collate([src[i] for i in index], [tgt[i] for i in index])
        for name, m, li in (("src.values", mapped.src.values, listed.src.values),
                            ("src.lens", mapped.src.lens, listed.src.lens),
                            ("tgt_in", mapped.tgt_in, listed.tgt_in),
                            ("tgt_out", mapped.tgt_out, listed.tgt_out)):
            assert torch.equal(m, li), name
            assert m.dtype == torch.long, name
        assert mapped.n_tokens == listed.n_tokens


def test_collated_batches_hold_at_most_max_tokens_padded_tokens(tmp_path):
    src, tgt = _random_pairs(300, 20, seed=3)
    data = _write(tmp_path / "train", src, tgt, 20, chunk=64)
    for index in data.batches(max_tokens=40, max_sentences=6, seed=0, epoch=0):
        b = data.collate(index)
        assert bool((b.src.lens == b.src.values.size(1)).all())
        assert b.src.values.numel() <= 40 and b.tgt_in.numel() <= 40 and len(index) <= 6


def test_an_empty_split_opens(tmp_path):
    data = _write(tmp_path / "dev", [], [], 100)
    assert len(data) == 0 and data.batches(max_tokens=10, max_sentences=2, seed=0,
                                           epoch=0) == []


def test_a_directory_that_is_not_a_prepared_split_is_named(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(FileNotFoundError, match=r"train/meta.json: not a prepared split"):
        PairArrays(tmp_path / "train")


@pytest.mark.parametrize("name", ["src.ids", "tgt.offsets", "src.lens"])
def test_a_truncated_or_missing_file_is_named_in_one_line(tmp_path, name):
    src, tgt = _random_pairs(20, 100)
    _write(tmp_path / "train", src, tgt, 100)
    path = tmp_path / "train" / name
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ValueError, match=rf"train/{name}: \d+ bytes, expected \d+"):
        PairArrays(tmp_path / "train")
    path.unlink()
    with pytest.raises(ValueError, match=rf"train/{name}: missing"):
        PairArrays(tmp_path / "train")
