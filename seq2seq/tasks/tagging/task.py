"""Tagging: tokens -> one tag per token (part-of-speech tags, named entities in IOB2).
Cross-entropy per token, or a CRF's sequence NLL (`model.decoder.crf`); dev token accuracy,
and for an IOB2 tag set seqeval's entity F1, which then picks best.pt (else accuracy); the
dev predictions are tag lines. `seq2seq-tag` reads its runs; `seq2seq-score --task tag`
scores tag lines. The encoder may start from another tagger's run (`model.init_from`: a POS
tagger's encoder for NER on the same text).
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from seq2seq.config.compose import ModelConfig, TrainConfig
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.textfile import file_stamp
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.models.encoder_decoder import upgrade_weights
from seq2seq.tasks import task_class
from seq2seq.tasks.base import Check, DevSet, Evaluation, Task
from seq2seq.tasks.classification.labelled import read_labels
from seq2seq.tasks.tagging.arrays import IGNORED, TaggedArrays, TaggedBatch
from seq2seq.tasks.tagging.metrics import tag_scores
from seq2seq.tasks.tagging.model import SequenceTagger, Vocabularies, build_tagger
from seq2seq.tasks.tagging.prepare import TaggingDataConfig, prepare_tagged, tagged_files
from seq2seq.tasks.tagging.reference import score_tags
from seq2seq.tasks.tagging.tagger import Tagger, best_tags
from seq2seq.training import checkpoint
from seq2seq.training.rundir import find_checkpoint


class Tagging(Task):
    data_config = TaggingDataConfig
    reads = ("words",)
    writes = "tags"
    parts = ("a tagger reads words with model/encoder=words and scores every token with "
             "model/decoder=tags: task=tagging goes with both")
    command = "seq2seq-tag"
    unit = "token"
    predictor = Tagger

    def __init__(self, tags: list[str], label_smoothing: float = 0.0,
                 spelling: tuple[bool, int] = (False, 24)):
        self.tags, self.label_smoothing = tags, label_smoothing
        self.spelling = spelling  # (data.lowercase, data.max_word_chars): how words are read

    @classmethod
    def from_config(cls, cfg: TrainConfig, tokenizer: Tokenizer,
                    prepared: PreparedDir) -> "Tagging":
        return cls(read_labels(prepared.labels), cfg.optim.label_smoothing,
                   (cfg.data.lowercase, cfg.data.max_word_chars))

    @classmethod
    def checks(cls, cfg: TrainConfig) -> list[Check]:
        d = cfg.data
        return [
            ("model.reverse_source", not cfg.model.reverse_source,
             "false: a tag belongs to its own token; read the sentence as written (the "
             "encoder reads both ways)"),
            ("data.min_count", d.min_count >= 1, "must be >= 1"),
            ("data.max_word_chars", d.max_word_chars >= 2, "must be >= 2"),
            ("data.on_bad_line", d.on_bad_line == "error",
             "error: tagged sentences are read whole (a bad line stops it, named)"),
        ]

    @classmethod
    def preparation(cls, cfg: TrainConfig) -> dict:
        """Tagged files (sizes and mtimes), and the vocabulary of a run started from."""
        data = dataclasses.asdict(cfg.data)
        del data["num_proc"]
        files = tagged_files(cfg.data) + start_files(cfg.model.init_from)
        return {"task": "tagging", "data": data,
                "files": hashlib.sha1(file_stamp(files).encode()).hexdigest()}

    @classmethod
    def prepare(cls, cfg: TrainConfig, out: PreparedDir, clock) -> None:
        start = cfg.model.init_from
        prepare_tagged(cfg, out, Path(start) if start is not None else None)
        clock.done("tagged text")

    @classmethod
    def score(cls, hyp: Path, refs: list[Path], column: str) -> list[str]:
        """Token accuracy (and for IOB2 tags seqeval's entity scores) and the most frequent
        errors, against tag lines or a tagged file's `column`."""
        if len(refs) != 1:
            raise ValueError("--task tag takes one reference")
        return score_tags(hyp, refs[0], column).lines()

    def arrays(self, directory: Path, training: bool = False) -> TaggedArrays:
        return TaggedArrays(directory)

    def build_model(self, cfg: ModelConfig, tok: Tokenizer) -> nn.Module:
        """The tagger, its encoder started from `cfg.init_from`'s tagger if set."""
        model = build_tagger(cfg, Vocabularies(tok.src_vocab_size, tok.tgt_vocab_size),
                             len(self.tags))
        if cfg.init_from is not None:
            load_encoder(model, cfg.init_from, self.spelling)
        return model

    def loss(self, model: SequenceTagger, b: TaggedBatch) -> torch.Tensor:
        """Summed over the batch's tokens (the CRF: over its sentences' -log p)."""
        scores = model(b.src)  # (B, S, T)
        if model.head.crf is not None:
            return model.head.crf.nll(scores, b.tags, b.src.lens)
        mask = b.tags != IGNORED
        return F.cross_entropy(scores[mask].float(), b.tags[mask], reduction="sum",
                               label_smoothing=self.label_smoothing)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        predicted: list = [None] * len(dev.pairs)
        total, tokens = 0.0, 0
        for index in dev.pairs.batches(max_tokens=dev.max_tokens,
                                       max_sentences=dev.max_sentences, seed=0, epoch=0):
            b = dev.pairs.collate(index).to(device)
            scores = model(b.src).float()  # (B, S, T)
            mask = b.tags != IGNORED
            total += float(F.cross_entropy(scores[mask], b.tags[mask], reduction="sum"))
            tokens += int(mask.sum())
            for i, ids in zip(index, best_tags(model, scores, b.src.lens)):
                predicted[i] = [self.tags[t] for t in ids]
        gold = [[self.tags[t] for t in dev.pairs.tags_of(i)] for i in range(len(dev.pairs))]
        result = tag_scores(predicted, gold)
        best = ((result.entities.f1, "entity F1") if result.entities is not None
                else (result.accuracy, "token accuracy"))
        return Evaluation({"loss_per_token": total / max(tokens, 1), "tags": result},
                          best_value=best[0], best_name=best[1],
                          predictions=[" ".join(p) for p in predicted])


def start_files(run: str | None) -> list[Path]:
    """The vocabulary files of the run a tagger starts from (its preparation takes them)."""
    if run is None:
        return []
    files = [Path(run) / "spm" / "src.model", Path(run) / "spm" / "tgt.model"]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"model.init_from: {f}: no such file (not a run "
                                    "directory?)")
    return files


def load_encoder(model: SequenceTagger, run: str, spelling: tuple[bool, int]) -> None:
    """Another tagger's encoder (words, characters, recurrent layers) into `model`'s: one
    line if that run is not a tagger's, reads words another way (`spelling`: lowercase,
    max_word_chars) or its encoder has another shape."""
    path = find_checkpoint(Path(run))
    state = checkpoint.load(path, map_location="cpu")
    config = state.get("config", {})
    if task_class(config.get("task", "translation")) is not Tagging:
        raise ValueError(f"model.init_from: {path}: not a tagger's run "
                         f"(task={config.get('task')})")
    data = config.get("data", {})
    theirs = (data.get("lowercase"), data.get("max_word_chars"))
    if theirs != tuple(spelling):
        raise ValueError(f"model.init_from: {path}: reads words with data.lowercase="
                         f"{theirs[0]}, data.max_word_chars={theirs[1]}; this run with "
                         f"{spelling[0]}, {spelling[1]}: set them alike")
    weights = {k[len("encoder."):]: v for k, v in upgrade_weights(state["model"]).items()
               if k.startswith("encoder.")}
    own = model.encoder.state_dict()
    for name, tensor in own.items():
        if name not in weights or weights[name].shape != tensor.shape:
            raise ValueError(f"model.init_from: {path}: its encoder has no "
                             f"'{name}' of shape {tuple(tensor.shape)} (another "
                             "model.encoder or size)")
    model.encoder.load_state_dict({k: weights[k] for k in own})
