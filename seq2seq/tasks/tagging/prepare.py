"""Preparing tagged sentences (task=tagging): files or a hub dataset -> vocabularies -> arrays.

    local files  <dir>/<split>.conllu | .iob2 | .conll | .jsonl (formats.py) --+
                                                                               +--> sentences
    hub dataset  a tokens feature and a tags feature (conll2003's shape) -------+    (where,
                                                                                     tokens, tags)
        --> words (frequency cut), characters, tags: training's (vocab.py) --> dev and test
            checked against the tags --> per split: each sentence's form ids and tag ids
            (flat arrays, tokens.write_pairs) and its forms' word and character ids

It fills the same `PreparedDir` as every task: `src.model` (the words), `tgt.model` (the
characters), `labels.txt` (the tags), `train/` and `dev/` as arrays (arrays.TaggedArrays),
and tokens and tags as lines (space-separated) in dev.src/dev.ref and test.src/test.ref,
which `seq2seq-tag` and `seq2seq-score --task tag` read. With `model.init_from` (a tagger
run whose encoder starts this one) that run's words and characters are taken instead: its
embeddings are only meaningful over its own vocabulary. A tagging corpus (EWT: 12,544
sentences, 205k tokens) is read whole into memory; only its arrays go to disk.
"""
from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow as pa

from seq2seq.config.compose import REPO_ROOT, CorpusConfig, TrainConfig
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.data.tokens import id_dtype, write_pairs
from seq2seq.tasks.classification.labelled import label_order, write_labels
from seq2seq.tasks.tagging.formats import (Sentence, checked, find_tagged, read_tagged,
                                           split_slice)
from seq2seq.tasks.tagging.vocab import TokenEncoder, char_pieces, model_proto, word_pieces

log = logging.getLogger(__name__)


@dataclass
class TaggingDataConfig(CorpusConfig):
    """Tagged sentences: f"{local_dir}/{split}.conllu|.iob2|.conll|.jsonl" (plain or .xz; a
    split may be a slice, `uner-dev[:1800]`), or a hub dataset with a tokens and a tags
    feature (conll2003; universal_dependencies with tags_column=upos_tags)."""
    column: str = "upos"  # CoNLL-U: the tag column (upos | xpos | misc:KEY)
    token_column: int = 0  # CoNLL columns: the token's index (Universal NER: 1)
    tag_column: int = -1  # and the tag's (CoNLL-2003 and Universal NER: the last, 2)
    tokens_column: str = "tokens"  # JSONL keys and hub features: the tokens,
    tags_column: str = "tags"  # and their tags (names, or a ClassLabel sequence's ids)
    min_count: int = 2  # words seen fewer times in training are <unk> (the unknown-word path)
    lowercase: bool = False  # words looked up lowercased (the characters keep the case)
    max_word_chars: int = 24  # a longer word is spelled by its first and last 12 characters
    max_len: int = 250  # tokens: a longer training sentence is dropped, counted
    name: str = "ud-ewt"  # names the prepared data folder


def local_dir(directory: str) -> Path:
    """A relative dir may also be the repo's own (data/ud-english-ewt)."""
    path, own = Path(directory), REPO_ROOT / directory
    return own if not path.is_dir() and own.is_dir() else path


def tagged_files(d: TaggingDataConfig) -> list[Path]:
    """The local files the three splits are read from."""
    if d.local_dir is None:
        return []
    return [find_tagged(local_dir(d.local_dir), s) for s in (d.train_split, d.dev_split,
                                                               d.test_split)]


def load_split(d: TaggingDataConfig, split: str) -> list[Sentence]:
    """A split's sentences (a slice of them, if it names one), each with its tags."""
    if d.hub_path is not None:
        return _load_hub(d, split)
    name, part = split_slice(split)
    path = find_tagged(local_dir(d.local_dir), name)
    sentences = list(read_tagged(path, d.column, d.token_column, d.tag_column,
                                 d.tokens_column, d.tags_column))[part]
    if not sentences:
        raise ValueError(f"{path}: split '{split}' has no sentences")
    return sentences


def _load_hub(d: TaggingDataConfig, split: str) -> list[Sentence]:
    from seq2seq.data.corpus import hub_split  # with `datasets`: only for a hub corpus

    ds, name = hub_split(d.hub_path, d.hub_name, split, {"data.tokens_column": d.tokens_column,
                                                          "data.tags_column": d.tags_column})
    feature = getattr(ds.features[d.tags_column], "feature", None)
    names = feature.names if hasattr(feature, "names") else None
    out = []
    for i, row in enumerate(ds.select_columns([d.tokens_column, d.tags_column])):
        tags = row[d.tags_column]
        if names is not None and isinstance(tags, list):
            tags = [names[t] if isinstance(t, int) and 0 <= t < len(names) else t for t in tags]
        out.append(checked(f"{name} row {i}", row[d.tokens_column], tags))
    return out


def check_tags(sentences: list[Sentence], tags: list[str]) -> None:
    """Dev and test may use only tags training saw: the first other one, named."""
    known = set(tags)
    for where, _, sentence_tags in sentences:
        for number, tag in enumerate(sentence_tags, start=1):
            if tag not in known:
                raise ValueError(f"{where}: token {number}: tag {tag!r} is not one of the "
                                 f"{len(tags)} training tags (a tag training never saw)")


def prepare_tagged(cfg: TrainConfig, out: PreparedDir, run_from: Optional[Path]) -> None:
    """Writes a tagger's preparation into `out` (the caller renames it when complete).
    `run_from`: a run directory whose words and characters to take instead."""
    d = cfg.data
    splits = {"train": load_split(d, d.train_split), "dev": load_split(d, d.dev_split),
              "test": load_split(d, d.test_split)}
    # the first N (a slice for smoke runs), then the length filter
    kept = [s for s in splits["train"][: d.max_train_sentences] if len(s[1]) <= d.max_len]
    if len(kept) < len(splits["train"]):
        log.info("train: %d sentences over %d tokens dropped",
                 len(splits["train"][: d.max_train_sentences]) - len(kept), d.max_len)
    splits["train"] = kept
    tags = label_order({t for _, _, ts in splits["train"] for t in ts})
    for name in ("dev", "test"):
        check_tags(splits[name], tags)
    write_labels(out.labels, tags)
    train_tokens = [tokens for _, tokens, _ in splits["train"]]
    if run_from is not None:
        shutil.copy(run_from / "spm" / "src.model", out.src_model)
        shutil.copy(run_from / "spm" / "tgt.model", out.tgt_model)
    else:
        out.src_model.write_bytes(model_proto(word_pieces(train_tokens, d.min_count,
                                                          d.lowercase), "word"))
        out.tgt_model.write_bytes(model_proto(char_pieces(train_tokens), "char"))
    tok = Tokenizer.load(out.spm, reverse_source=False)
    encoder = TokenEncoder.of(tok, d.lowercase, d.max_word_chars)
    log.info("%d words (%s), %d characters, %d tags: %s", tok.src_vocab_size,
             f"min_count {d.min_count}" if run_from is None else f"{run_from}'s",
             tok.tgt_vocab_size, len(tags), " ".join(tags))
    for name, src, ref in (("dev", out.dev_src, out.dev_ref),
                           ("test", out.test_src, out.test_ref)):
        src.write_text("".join(" ".join(t) + "\n" for _, t, _ in splits[name]), "utf-8")
        ref.write_text("".join(" ".join(t) + "\n" for _, _, t in splits[name]), "utf-8")
    for name, folder in (("train", out.train), ("dev", out.dev)):
        write_tagged(folder, splits[name], tags, encoder)


def write_tagged(folder: Path, sentences: list[Sentence], tags: list[str],
                 encoder: TokenEncoder) -> None:
    """A split as flat arrays: each sentence's form ids (src, into the split's forms) and tag
    ids (tgt); `forms.npy`: each form's word id and character ids, (F, 1 + W)."""
    forms: dict[str, int] = {}
    tag_id = {t: i for i, t in enumerate(tags)}
    src = [[forms.setdefault(t, len(forms)) for t in tokens] for _, tokens, _ in sentences]
    tgt = [[tag_id[t] for t in ts] for _, _, ts in sentences]
    dtype = id_dtype(max(len(forms), len(tags)) + 1)
    write_pairs(folder, [(pa.array(src, pa.list_(pa.int32())),
                          pa.array(tgt, pa.list_(pa.int32())))], {"src": dtype, "tgt": dtype})
    np.save(folder / "forms.npy", encoder.rows(list(forms)))
