"""Parallel text -> `datasets` -> sentencepiece ids -> length-bucketed batches.

    local files  train.es / train.en (plain or .xz) --+
                                                       +--> Dataset{src, tgt} (Arrow cache)
    hub dataset  {"translation": {"es":..,"en":..}} --+          |
                                                      encode (Dataset.map), filter by length
                                                                 |
                    Dataset{src_ids, tgt_ids} --> batches of similar length, shuffled per epoch

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
import torch

from seq2seq.config import CONF_DIR, DataConfig
from seq2seq.textfile import count_lines, decoded_lines, file_stamp, read_lines
from seq2seq.tokenizer import BOS, EOS, PAD, Tokenizer

log = logging.getLogger(__name__)
REPO_ROOT = CONF_DIR.parent


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
        ds = ds.map(lambda ex: {"src": ex["translation"][cfg.src_lang],
                                "tgt": ex["translation"][cfg.tgt_lang]},
                    remove_columns=ds.column_names)
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    return ds


def _load_local(cfg: DataConfig, split: str) -> datasets.Dataset:
    src = find_text_file(cfg.local_dir, split, cfg.src_lang)
    tgt = find_text_file(cfg.local_dir, split, cfg.tgt_lang)
    n_src, n_tgt = count_lines(src), count_lines(tgt)
    if n_src != n_tgt:
        raise ValueError(f"{src} has {n_src} lines but {tgt} has {n_tgt}: "
                         "parallel files must match line for line")
    # Dev and test are always strict: skipping a line there would shift the references.
    skip_bad = cfg.on_bad_line == "skip" and split == cfg.train_split
    try:
        return datasets.Dataset.from_generator(
            _pairs, gen_kwargs={"src_path": str(src.resolve()), "tgt_path": str(tgt.resolve()),
                                "skip_bad": skip_bad, "stamp": file_stamp([src, tgt])})
    except DatasetGenerationError as exc:  # datasets wraps our one-line error: unwrap it
        if isinstance(exc.__cause__, (ValueError, OSError)):
            raise exc.__cause__ from None
        raise


# ---------------------------------------------------------------- encoding and filtering
def encode(ds: datasets.Dataset, tok: Tokenizer) -> datasets.Dataset:
    """Add src_ids (reversed source, with eos) and tgt_ids columns."""
    def _encode(batch: dict) -> dict:
        return {"src_ids": tok.encode_source(batch["src"]),
                "tgt_ids": tok.encode_target(batch["tgt"])}
    # No cache: it would key on the tokenizer object, not on the code of encode_source.
    return ds.map(_encode, batched=True, batch_size=2000, desc="sentencepiece",
                  load_from_cache_file=False)


def filter_by_length(ds: datasets.Dataset, max_len: int, name: str) -> datasets.Dataset:
    """Drop pairs with an empty side or a side longer than max_len pieces (counted, logged)."""
    def empty(ex: dict) -> bool:
        # src_ids always ends with eos, so an empty (or whitespace-only) source has length 1.
        return len(ex["src_ids"]) <= 1 or len(ex["tgt_ids"]) == 0

    def short_enough(ex: dict) -> bool:
        return len(ex["src_ids"]) <= max_len + 1 and len(ex["tgt_ids"]) <= max_len

    non_empty = ds.filter(lambda ex: not empty(ex), desc="empty filter")
    kept = non_empty.filter(short_enough, desc="length filter")
    log.info("%s: kept %d of %d pairs; dropped %d with an empty side, %d over %d pieces",
             name, len(kept), len(ds), len(ds) - len(non_empty), len(non_empty) - len(kept),
             max_len)
    return kept


# ---------------------------------------------------------------- batches
def make_batches(src_lens: np.ndarray, tgt_lens: np.ndarray, *, max_tokens: int,
                 max_sentences: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Index arrays, one per batch, in a shuffled order that depends only on (seed, epoch).

    A batch holds sentences of one source length, sorted by target length with ties broken
    at random, so batch contents change from epoch to epoch. A batch has at most
    `max_sentences` sentences and at most `max_tokens` padded tokens on either side.
    """
    rng = np.random.default_rng([seed, epoch])
    order = np.lexsort((rng.random(len(src_lens)), tgt_lens, src_lens))
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        end, longest = start, 0
        s_len = src_lens[order[start]]
        while end < len(order) and src_lens[order[end]] == s_len:
            longest = max(s_len, tgt_lens[order[end]] + 1)
            if (end - start + 1) * longest > max_tokens or end - start >= max_sentences:
                break
            end += 1
        end = max(end, start + 1)  # a single over-long sentence still forms a batch
        batches.append(order[start:end])
        start = end
    rng.shuffle(batches)
    return batches


@dataclass
class Batch:
    src_ids: torch.Tensor  # (B, S) reversed source + eos, padded
    src_lens: torch.Tensor  # (B,)
    tgt_in: torch.Tensor  # (B, T) bos + target
    tgt_out: torch.Tensor  # (B, T) target + eos, padded with PAD (ignored by the loss)
    n_tokens: int  # real target tokens (eos included): counted here, never on a GPU

    def to(self, device: torch.device) -> "Batch":
        """On `device`; to a GPU from pinned memory, so the copy does not block the host."""
        def move(t: torch.Tensor) -> torch.Tensor:
            return (t.pin_memory() if device.type == "cuda" else t).to(device, non_blocking=True)
        return Batch(move(self.src_ids), move(self.src_lens), move(self.tgt_in),
                     move(self.tgt_out), self.n_tokens)


def pad(seqs: list[list[int]]) -> torch.Tensor:
    """(B, max_len) tensor of the sequences, right-padded with PAD."""
    out = torch.full((len(seqs), max(map(len, seqs))), PAD, dtype=torch.long)
    for i, seq in enumerate(seqs):
        out[i, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return out


def collate(src: list[list[int]], tgt: list[list[int]]) -> Batch:
    return Batch(src_ids=pad(src),
                 src_lens=torch.tensor([len(s) for s in src]),
                 tgt_in=pad([[BOS] + t for t in tgt]),
                 tgt_out=pad([t + [EOS] for t in tgt]),
                 n_tokens=sum(len(t) + 1 for t in tgt))


class ParallelIds:
    """Encoded pairs held in memory as Python lists, for fast batch assembly."""

    def __init__(self, ds: datasets.Dataset):
        self.src: list[list[int]] = ds.data.column("src_ids").to_pylist()
        self.tgt: list[list[int]] = ds.data.column("tgt_ids").to_pylist()
        self.src_lens = np.array([len(s) for s in self.src])
        self.tgt_lens = np.array([len(t) for t in self.tgt])

    def __len__(self) -> int:
        return len(self.src)

    def batches(self, *, max_tokens: int, max_sentences: int, seed: int,
                epoch: int) -> list[np.ndarray]:
        return make_batches(self.src_lens, self.tgt_lens, max_tokens=max_tokens,
                            max_sentences=max_sentences, seed=seed, epoch=epoch)

    def collate(self, index: np.ndarray) -> Batch:
        return collate([self.src[i] for i in index], [self.tgt[i] for i in index])
