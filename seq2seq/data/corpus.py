"""Parallel text -> `datasets` -> sentencepiece ids -> length-bucketed batches.

    local files  train.es / train.en (plain or .xz) --+
                                                       +--> Dataset{src, tgt} (Arrow cache)
    hub dataset  {HUB_PAIRS: {"es":..,"en":..}}  ----+          |
                                              encode (Dataset.map, num_proc), length filter
                                                                 |
                 Dataset{src_ids, tgt_ids} --> flat token arrays on disk (seq2seq/data/tokens.py)
                                                                 |
                 length arrays --> batches of similar length (numpy), shuffled per epoch

Batches group sentences of the *same source length* (then similar target length): the
encoder then sees no padding at all, so its final states are exact without packing, and
the paper's observation holds (sentences of similar length together: a 2x speed-up).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import datasets
from datasets.exceptions import DatasetGenerationError
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from seq2seq.config.compose import REPO_ROOT, DataConfig
from seq2seq.data.sources import Source, pad
from seq2seq.data.textfile import count_lines, decoded_lines, file_stamp, read_lines
from seq2seq.data.tokenizer import BOS, EOS, Tokenizer, source_pieces

log = logging.getLogger(__name__)
# The hub's column of parallel text (wmt/wmt14 and the like): {lang: sentence, ...} a row
HUB_PAIRS = "translation"


# ---------------------------------------------------------------- local corpus files
def find_text_file(directory: str, split: str, lang: str) -> Path:
    """`<dir>/<split>.<lang>` or its `.xz`; a relative dir may also be the repo's own."""
    for base in (Path(directory), REPO_ROOT / directory):
        for name in (f"{split}.{lang}", f"{split}.{lang}.xz"):
            if (base / name).is_file():
                return base / name
    raise FileNotFoundError(f"{Path(directory) / f'{split}.{lang}'}: no such file (nor .xz)")


def local_files(cfg: DataConfig) -> list[Path]:
    """Every local corpus file these settings read."""
    if cfg.local_dir is None:
        return []
    splits = (cfg.train_split, cfg.dev_split, cfg.test_split)
    langs = (cfg.src_lang, cfg.tgt_lang)
    files = [find_text_file(cfg.local_dir, s, lang) for s in splits for lang in langs]
    return files + [find_text_file(cfg.local_dir, cfg.test_split, lang)
                    for lang in cfg.extra_ref_langs]


def _pairs(src_path: str, tgt_path: str, skip_bad: bool, stamp: str) -> Iterator[dict]:
    # `stamp` (sizes and mtimes) is unused here: it is part of the Arrow cache key.
    if not skip_bad:
        for src, tgt in zip(read_lines(Path(src_path)), read_lines(Path(tgt_path))):
            yield {"src": src, "tgt": tgt}
        return
    # Skipping: a pair goes if either side is bad, so both files are read line by line.
    bad: dict[str, list[int]] = {src_path: [], tgt_path: []}
    for (n, src, _), (_, tgt, _) in zip(decoded_lines(Path(src_path)),
                                        decoded_lines(Path(tgt_path))):
        for path, line in ((src_path, src), (tgt_path, tgt)):
            if line is None:
                bad[path].append(n)
        if src is not None and tgt is not None:
            yield {"src": src, "tgt": tgt}
    for path, numbers in bad.items():
        if numbers:
            log.warning("%s: skipped %d pairs for invalid UTF-8 on this side (first: line %d)",
                        path, len(numbers), numbers[0])


# ---------------------------------------------------------------- one loading function
def load_split(cfg: DataConfig, split: str, limit: Optional[int] = None) -> datasets.Dataset:
    """A split as Dataset{src, tgt}: local parallel files or a hub `translation` dataset."""
    if cfg.local_dir is not None:
        ds = _load_local(cfg, split)
    else:
        ds = datasets.load_dataset(cfg.hub_path, cfg.hub_name, split=split)
        ds = ds.map(lambda ex: {"src": ex[HUB_PAIRS][cfg.src_lang],
                                "tgt": ex[HUB_PAIRS][cfg.tgt_lang]},
                    remove_columns=ds.column_names)
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    return ds


def hub_split(path: str, name: Optional[str], split: str,
              columns: dict[str, str]) -> tuple[datasets.Dataset, str]:
    """A hub dataset's split and the name errors call it by ("path/name[split]"), the
    columns a task reads (config key -> column) checked: one missing is one line naming
    the columns there are and the keys that name them."""
    ds = datasets.load_dataset(path, name, split=split)
    where = f"{path}{'/' + name if name else ''}[{split}]"
    for column in columns.values():
        if column not in ds.column_names:
            raise ValueError(f"{where}: no column '{column}' (columns: "
                             f"{', '.join(ds.column_names)}; {', '.join(columns)} name them)")
    return ds, where


def _load_local(cfg: DataConfig, split: str) -> datasets.Dataset:
    src = find_text_file(cfg.local_dir, split, cfg.src_lang)
    tgt = find_text_file(cfg.local_dir, split, cfg.tgt_lang)
    n_src, n_tgt = count_lines(src), count_lines(tgt)
    if n_src != n_tgt:
        raise ValueError(f"{src} has {n_src} lines but {tgt} has {n_tgt}: "
                         "parallel files must match line for line")
    # Dev and test are always strict: skipping a line there would shift the references.
    skip_bad = cfg.on_bad_line == "skip" and split == cfg.train_split
    return generated(_pairs, {"src_path": str(src.resolve()), "tgt_path": str(tgt.resolve()),
                              "skip_bad": skip_bad, "stamp": file_stamp([src, tgt])})


def generated(generator, kwargs: dict) -> datasets.Dataset:
    """`Dataset.from_generator`, its Arrow table cached on the arguments (a file stamp among
    them); the generator's one-line errors raised as they are, not wrapped."""
    try:
        return datasets.Dataset.from_generator(generator, gen_kwargs=kwargs)
    except DatasetGenerationError as exc:  # datasets wraps our one-line error: unwrap it
        if isinstance(exc.__cause__, (ValueError, OSError)):
            raise exc.__cause__ from None
        raise


# ---------------------------------------------------------------- encoding and filtering
PARALLEL_FROM = 20_000  # pairs; below that, starting processes costs more than it saves
ID_COLUMNS = datasets.Features({"src_ids": datasets.Sequence(datasets.Value("int32")),
                                "tgt_ids": datasets.Sequence(datasets.Value("int32"))})


def encode(ds: datasets.Dataset, tok: Tokenizer, *, num_proc: Optional[int] = None,
           cache_file: Optional[Path] = None) -> datasets.Dataset:
    """Dataset{src_ids (reversed source, with eos), tgt_ids}, int32, in `num_proc` processes.

    `cache_file` is where the encoded Arrow table goes (the caller deletes it); without
    one, datasets' cache directory."""
    def _encode(batch: dict) -> dict:
        return {"src_ids": tok.encode_source(batch["src"]),
                "tgt_ids": tok.encode_target(batch["tgt"])}
    # No reuse of earlier results: the cache key would be the tokenizer object, not the
    # code of encode_source.
    return ds.map(_encode, batched=True, batch_size=2000, desc="sentencepiece",
                  remove_columns=ds.column_names, features=ID_COLUMNS,
                  num_proc=num_proc if num_proc and num_proc > 1 and len(ds) >= PARALLEL_FROM
                  else None,
                  load_from_cache_file=False,
                  cache_file_name=None if cache_file is None else str(cache_file))


def length_filter(ds: datasets.Dataset, max_len: int, name: str) -> np.ndarray:
    """Which pairs to keep: both sides non-empty, neither over max_len pieces (logged)."""
    src_lens = pc.list_value_length(ds.data.column("src_ids")).to_numpy()
    tgt_lens = pc.list_value_length(ds.data.column("tgt_ids")).to_numpy()
    src_pieces = source_pieces(src_lens)
    non_empty = (src_pieces > 0) & (tgt_lens > 0)
    keep = non_empty & (src_pieces <= max_len) & (tgt_lens <= max_len)
    log.info("%s: kept %d of %d pairs; dropped %d with an empty side, %d over %d pieces",
             name, keep.sum(), len(ds), len(ds) - non_empty.sum(), non_empty.sum() - keep.sum(),
             max_len)
    return keep


def id_chunks(ds: datasets.Dataset, keep: np.ndarray) -> Iterator[tuple[pa.Array, pa.Array]]:
    """(src_ids, tgt_ids) Arrow chunks of the kept pairs, in order, read zero-copy."""
    start = 0
    for rb in ds.data.table.to_batches(max_chunksize=100_000):
        mask = pa.array(keep[start: start + rb.num_rows])
        start += rb.num_rows
        yield (pc.filter(rb.column("src_ids"), mask), pc.filter(rb.column("tgt_ids"), mask))


# ---------------------------------------------------------------- batches
def make_batches(src_lens: np.ndarray, tgt_lens: np.ndarray, *, max_tokens: int,
                 max_sentences: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Index arrays, one per batch, in a shuffled order that depends only on (seed, epoch).

    A batch holds sentences of one source length, sorted by target length with ties broken
    at random, so batch contents change from epoch to epoch. A batch has at most
    `max_sentences` sentences and at most `max_tokens` padded tokens on either side. In
    numpy over the length arrays (memory-mapped ones too), one source length at a time, so
    that beside the order itself (4 bytes a pair) little is held, even for 40M pairs.
    """
    rng = np.random.default_rng([seed, epoch])
    order = np.lexsort((rng.random(len(src_lens)), tgt_lens, src_lens))  # (N,)
    if len(order) < 1 << 31:  # the batches are views of the order: 4 bytes a pair, not 8
        order = order.astype(np.int32)
    group_ends = np.cumsum(np.bincount(src_lens)) if len(order) else np.zeros(0)
    batches, start = [], 0
    for length, end in enumerate(group_ends.tolist()):  # pairs of one source length
        if end == start:
            continue
        ends = _batch_ends(length, tgt_lens[order[start:end]], max_tokens, max_sentences)
        first = 0
        while first < len(ends):  # one Python step per batch
            last = int(ends[first])
            batches.append(order[start + first: start + last])
            first = last
        start = end
    rng.shuffle(batches)
    return batches


def _batch_ends(s: int, t: np.ndarray, max_tokens: int, max_sentences: int) -> np.ndarray:
    """Where a batch starting at each position ends, within one source length `s` whose
    target lengths `t` ascend.

    A batch from p can take pair j while (j - p + 1) * max(s, t_j + 1) <= max_tokens, i.e.
    while f_j = j + 1 - cap_j <= p with cap_j = max_tokens // max(s, t_j + 1). cap does not
    grow with j, so f strictly increases and the first j that does not fit is a binary search.
    """
    p = np.arange(len(t))
    f = p + 1 - max_tokens // np.maximum(s, t.astype(np.int64) + 1)
    ends = np.minimum(np.searchsorted(f, p, side="right"), p + max_sentences)
    return np.maximum(ends, p + 1)  # a single over-long sentence still forms a batch


@dataclass
class Batch:
    src: Source  # what the encoder reads: (B, S) reversed source + eos, padded, and lengths
    tgt_in: torch.Tensor  # (B, T) bos + target
    tgt_out: torch.Tensor  # (B, T) target + eos, padded with PAD (ignored by the loss)
    n_tokens: int  # real target tokens (eos included): counted here, never on a GPU

    @property
    def size(self) -> int:
        """Sentences in the batch."""
        return self.tgt_in.size(0)

    @property
    def n_units(self) -> int:
        """The loss's terms (the task's `unit`): here target tokens."""
        return self.n_tokens

    def pinned(self) -> "Batch":
        """In page-locked memory, from which a copy to a GPU does not block the host."""
        return Batch(self.src.pinned(), self.tgt_in.pin_memory(), self.tgt_out.pin_memory(),
                     self.n_tokens)

    def to(self, device: torch.device) -> "Batch":
        """On `device` (asynchronously from pinned memory)."""
        return Batch(self.src.to(device), self.tgt_in.to(device, non_blocking=True),
                     self.tgt_out.to(device, non_blocking=True), self.n_tokens)


@dataclass
class LabelledBatch:
    """A classifier's batch: texts (as a translation batch's source) and a label id each."""
    src: Source  # (B, S) source ids + eos, padded, and lengths
    labels: torch.Tensor  # (B,) label ids

    @property
    def size(self) -> int:
        return self.labels.size(0)

    @property
    def n_units(self) -> int:
        """The loss's terms (the task's `unit`): one a text (what the log's loss is per, and
        its speed counts)."""
        return self.size

    def pinned(self) -> "LabelledBatch":
        return LabelledBatch(self.src.pinned(), self.labels.pin_memory())

    def to(self, device: torch.device) -> "LabelledBatch":
        return LabelledBatch(self.src.to(device), self.labels.to(device, non_blocking=True))


def collate(src: list[list[int]], tgt: list[list[int]]) -> Batch:
    """A batch from id lists (tokens.py collates the training data from its arrays)."""
    width = max(map(len, tgt)) + 1
    return Batch(src=Source.of_ids(src), tgt_in=pad([[BOS] + t for t in tgt], width),
                 tgt_out=pad([t + [EOS] for t in tgt], width),
                 n_tokens=sum(len(t) + 1 for t in tgt))
