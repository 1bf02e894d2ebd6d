"""Encoded corpora on disk as flat token arrays, memory-mapped by every process that reads them.

One split of a prepared corpus (fairseq's MMapIndexedDataset and Megatron's indexed
datasets are the anchors):

    train/  src.ids   every source sentence's ids end to end   uint16 below 65,536 pieces,
            tgt.ids   the same for the targets                  else int32
            src.lens  tgt.lens   one length per sentence         uint16 or int32
            src.offsets tgt.offsets   where each sentence starts (int64, one more than pairs)
            meta.json            pair count and dtypes
            labels.ids           a classifier's split instead of tgt.*: one label id a text


        src.ids   [ 5 9 3 | 7 3 | 4 4 8 3 | ... ]      src.offsets [0, 3, 5, 9, ...]

Opened with `np.memmap`, the arrays are pages of the page cache: one copy however many
ranks read them, nothing per sentence in a process's private memory. Collating a batch
gathers its rows straight from the maps with numpy.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from seq2seq.data.corpus import Batch, LabelledBatch, make_batches
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import BOS, EOS, PAD

SIDES = ("src", "tgt")


def id_dtype(vocab_size: int) -> np.dtype:
    """The narrowest dtype that holds every id (and every length) of the vocabulary."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.int32)


class SideWriter:
    """Appends one side's sentences to its three files."""

    def __init__(self, directory: Path, side: str, dtype: np.dtype):
        self.dtype, self.written = dtype, 0
        self.files = [open(directory / f"{side}.{kind}", "wb")
                      for kind in ("ids", "lens", "offsets")]
        np.zeros(1, np.int64).tofile(self.files[2])

    def append(self, column: pa.ListArray) -> None:
        values = column.flatten().to_numpy(zero_copy_only=False)
        lens = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
        values.astype(self.dtype).tofile(self.files[0])
        lens.astype(np.int32).tofile(self.files[1])
        (self.written + np.cumsum(lens)).tofile(self.files[2])
        self.written += int(lens.sum())

    def close(self) -> None:
        for f in self.files:
            f.close()


def write_pairs(directory: Path, chunks: Iterable[tuple[pa.ListArray, pa.ListArray]],
                dtypes: dict[str, np.dtype]) -> int:
    """Writes (src_ids, tgt_ids) Arrow list chunks as one split; returns the pair count."""
    directory.mkdir(parents=True, exist_ok=True)
    writers = {side: SideWriter(directory, side, dtypes[side]) for side in SIDES}
    pairs = 0
    for src, tgt in chunks:
        writers["src"].append(src)
        writers["tgt"].append(tgt)
        pairs += len(src)
    for w in writers.values():
        w.close()
    meta = {"pairs": pairs, **{f"{side}_dtype": dtypes[side].name for side in SIDES}}
    (directory / "meta.json").write_text(json.dumps(meta) + "\n")
    return pairs


def mapped_array(path: Path, dt, count: int) -> np.ndarray:
    """`count` values of `dt` in `path`, mapped read-only; a file of another size is refused."""
    size = count * np.dtype(dt).itemsize
    actual = path.stat().st_size if path.is_file() else None
    if actual != size:  # cut short or rewritten: reading it would index garbage
        raise ValueError(f"{path}: {'missing' if actual is None else f'{actual} bytes'}"
                         f", expected {size} (prepare again: delete {path.parent.parent})")
    if count == 0:  # np.memmap refuses empty files
        return np.zeros(0, dt)
    return np.memmap(path, dtype=dt, mode="r", shape=(count,))


def read_meta(directory: Path) -> dict:
    meta_file = directory / "meta.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"{meta_file}: not a prepared split (run seq2seq-prepare)")
    return json.loads(meta_file.read_text())


class MappedSide:
    """One side of a split, mapped: `ids`, `lens`, `offsets` as read-only numpy arrays."""

    def __init__(self, directory: Path, side: str, dtype: str, pairs: int):
        def mapped(kind: str, dt, count: int) -> np.ndarray:
            return mapped_array(directory / f"{side}.{kind}", dt, count)
        self.offsets = mapped("offsets", np.int64, pairs + 1)
        self.lens = mapped("lens", np.int32, pairs)
        self.ids = mapped("ids", np.dtype(dtype), int(self.offsets[-1]) if pairs else 0)

    def rows(self, index: np.ndarray, width: int, shift: int) -> tuple[np.ndarray, np.ndarray]:
        """(B, width) of the sentences `index` placed from column `shift`, PAD elsewhere;
        and their lengths."""
        lens = self.lens[index].astype(np.int64)  # (B,)
        cols = np.arange(width - shift)
        inside = cols < lens[:, None]  # (B, width - shift)
        out = np.full((len(index), width), PAD, dtype=np.int64)
        out[:, shift:][inside] = self.ids[(self.offsets[index][:, None] + cols)[inside]]
        return out, lens


class PairArrays:
    """A prepared split of (source ids, target ids) pairs, memory-mapped."""

    def __init__(self, directory: Path):
        directory = Path(directory)
        meta = read_meta(directory)
        self.pairs = meta["pairs"]
        self.src, self.tgt = (MappedSide(directory, side, meta[f"{side}_dtype"], self.pairs)
                              for side in SIDES)

    def __len__(self) -> int:
        return self.pairs

    @property
    def src_lens(self) -> np.ndarray:
        return self.src.lens

    @property
    def tgt_lens(self) -> np.ndarray:
        return self.tgt.lens

    def pair(self, i: int) -> tuple[list[int], list[int]]:
        """Pair i's ids as lists (for tests and benchmarks, not for training)."""
        return tuple(s.ids[s.offsets[i]: s.offsets[i + 1]].tolist() for s in (self.src, self.tgt))

    def batches(self, *, max_tokens: int, max_sentences: int, seed: int,
                epoch: int) -> list[np.ndarray]:
        return make_batches(self.src_lens, self.tgt_lens, max_tokens=max_tokens,
                            max_sentences=max_sentences, seed=seed, epoch=epoch)

    def collate(self, index: np.ndarray) -> Batch:
        """The batch of pairs `index`: source padded, target with bos in and eos out."""
        index = np.asarray(index)
        src, src_lens = self.src.rows(index, int(self.src.lens[index].max()), 0)
        return Batch(Source(torch.from_numpy(src), torch.from_numpy(src_lens)),
                     *teacher_forcing(self.tgt, index))


def teacher_forcing(tgt: MappedSide, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The targets `index` as the decoder reads them, bos first (B, T), and as it must
    write them, eos last (B, T); and the real tokens among the latter."""
    tgt_in, tgt_lens = tgt.rows(index, int(tgt.lens[index].max()) + 1, 1)
    tgt_in[:, 0] = BOS
    tgt_out = np.full_like(tgt_in, PAD)  # the same tokens one step earlier, then eos
    tgt_out[:, :-1] = tgt_in[:, 1:]
    tgt_out[np.arange(len(index)), tgt_lens] = EOS
    return (torch.from_numpy(tgt_in), torch.from_numpy(tgt_out),
            int(tgt_lens.sum()) + len(index))


# ---------------------------------------------------------------- one side, and what goes with it
def write_side(directory: Path, side: str, chunks: Iterable[pa.ListArray], dtype: np.dtype,
               kind: str) -> int:
    """Writes id Arrow chunks as a split of one side alone, its meta saying which `kind`
    (what reads it checks); returns the sentence count."""
    directory.mkdir(parents=True, exist_ok=True)
    writer, count = SideWriter(directory, side, dtype), 0
    for ids in chunks:
        writer.append(ids)
        count += len(ids)
    writer.close()
    meta = {"pairs": count, f"{side}_dtype": dtype.name, kind: True}
    (directory / "meta.json").write_text(json.dumps(meta) + "\n")
    return count


def write_labelled(directory: Path, chunks: Iterable[tuple[pa.ListArray, pa.Array]],
                   dtype: np.dtype) -> int:
    """Writes (src_ids, label id) Arrow chunks as one split (a classifier's): the source side
    as above and `labels.ids` (int32, one a text); returns the text count."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "labels.ids", "wb") as labels:
        def sources() -> Iterable[pa.ListArray]:
            for src, label in chunks:
                label.to_numpy(zero_copy_only=False).astype(np.int32).tofile(labels)
                yield src
        return write_side(directory, "src", sources(), dtype, "labelled")


def write_texts(directory: Path, chunks: Iterable[pa.ListArray], dtype: np.dtype) -> int:
    """Writes target-id Arrow chunks as one split of sentences alone (a language model's)."""
    return write_side(directory, "tgt", chunks, dtype, "single_sided")


class SideArrays:
    """A prepared split of one side alone, memory-mapped; batches group sentences of one
    length (no padding in training)."""
    side, kind = "src", ""  # which side, and the meta's flag that says the split is one

    def __init__(self, directory: Path):
        meta = read_meta(Path(directory))
        if not meta.get(self.kind):
            raise ValueError(f"{directory}: a split of text pairs, not of "
                             f"{self.kind.replace('_', '-')} text")
        self.pairs = meta["pairs"]
        self.ids = MappedSide(Path(directory), self.side, meta[f"{self.side}_dtype"],
                              self.pairs)

    def __len__(self) -> int:
        return self.pairs

    def batches(self, *, max_tokens: int, max_sentences: int, seed: int,
                epoch: int) -> list[np.ndarray]:
        # by the tokens a row costs: a text's ids (with eos), a target's with bos or eos
        cost = self.ids.lens + (self.side == "tgt")
        return make_batches(cost, np.zeros_like(cost), max_tokens=max_tokens,
                            max_sentences=max_sentences, seed=seed, epoch=epoch)


class LabelledArrays(SideArrays):
    """(source ids, label id) pairs: a classifier's data."""
    side, kind = "src", "labelled"

    def __init__(self, directory: Path):
        super().__init__(directory)
        self.src = self.ids
        self.labels = mapped_array(Path(directory) / "labels.ids", np.int32, self.pairs)

    def collate(self, index: np.ndarray) -> LabelledBatch:
        index = np.asarray(index)
        src, lens = self.src.rows(index, int(self.src.lens[index].max()), 0)
        return LabelledBatch(Source(torch.from_numpy(src), torch.from_numpy(lens)),
                             torch.from_numpy(self.labels[index].astype(np.int64)))


class TextArrays(SideArrays):
    """Sentences alone: a language model's data. The source the decoder does not read is
    empty (B, 0)."""
    side, kind = "tgt", "single_sided"

    def __init__(self, directory: Path):
        super().__init__(directory)
        self.tgt = self.ids

    def collate(self, index: np.ndarray) -> Batch:
        index = np.asarray(index)
        empty = Source(torch.zeros(len(index), 0, dtype=torch.long),
                       torch.zeros(len(index), dtype=torch.long))
        return Batch(empty, *teacher_forcing(self.tgt, index))
