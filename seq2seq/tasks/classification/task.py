"""Classification: text -> one of the training labels (sentiment, topics). Cross-entropy per
text; dev accuracy, macro-F1 and the confusion matrix; best.pt on accuracy; the dev
predictions are label names. Its data node adds the text and label columns to parallel
text's; `seq2seq-classify` reads its runs; `seq2seq-score --task classification` scores labels.
The encoder may start from a language model's run (ULMFiT: `model.init_from`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from seq2seq.config.compose import ModelConfig, TrainConfig
from seq2seq.data.corpus import LabelledBatch
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.textfile import input_file, read_lines
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.data.tokens import LabelledArrays
from seq2seq.evaluation.metrics import label_scores
from seq2seq.models.encoder_decoder import upgrade_weights
from seq2seq.tasks.base import Check, DevSet, Evaluation, Task
from seq2seq.tasks.classification.classifier import Classifier
from seq2seq.tasks.classification.labelled import TABLES, label_set, read_label_column, read_labels
from seq2seq.tasks.classification.model import build_classifier, lm_encoder_weights
from seq2seq.tasks.classification.prepare import (LabelledDataConfig, labelled_stamp, lm_spm,
                                                  prepare_labelled)
from seq2seq.training import checkpoint
from seq2seq.training.rundir import find_checkpoint


class Classification(Task):
    data_config = LabelledDataConfig
    writes = "label"
    parts = ("a classifier, and only it, ends in a classifier head: task=classification goes with "
             "model/decoder=classifier")
    command = "seq2seq-classify"
    unit = "text"
    predictor = Classifier

    def __init__(self, labels: list[str], label_smoothing: float = 0.0):
        self.labels, self.label_smoothing = labels, label_smoothing

    @classmethod
    def from_config(cls, cfg: TrainConfig, tokenizer: Tokenizer,
                    prepared: PreparedDir) -> "Classification":
        return cls(read_labels(prepared.labels), cfg.optim.label_smoothing)

    @classmethod
    def checks(cls, cfg: TrainConfig) -> list[Check]:
        m = cfg.model
        return [
            ("model.decoder.attention", m.decoder.attention == "none",
             "none: a classifier's head pools the encoder's states (model.decoder.pooling)"),
            ("data.on_bad_line", cfg.data.on_bad_line == "error",
             "error: a classifier's data is read whole (a bad line stops it, named)"),
            ("model.init_from", m.init_from is None or not m.encoder.bidirectional,
             "a language model reads one way: use a one-way encoder (model/encoder=rnn)"),
            ("model.init_from", m.init_from is None or not m.reverse_source,
             "a language model reads forwards: set model.reverse_source=false"),
        ]

    @classmethod
    def preparation(cls, cfg: TrainConfig) -> dict:
        """Labelled text, perhaps a language model's vocabulary."""
        data = dataclasses.asdict(cfg.data)
        del data["num_proc"]
        # "classify": the task's id when preparations were first keyed (kept: same key)
        return {"task": "classify", "data": data, "files": labelled_stamp(cfg)}

    @classmethod
    def prepare(cls, cfg: TrainConfig, out: PreparedDir, clock) -> None:
        prepare_labelled(cfg, out, lm_spm(cfg.model.init_from))
        clock.done("labelled text")

    @classmethod
    def score(cls, hyp: Path, refs: list[Path], column: str) -> list[str]:
        """Accuracy, macro-F1 and the confusion matrix (rows: reference, columns: predicted)
        against a labels file, a labelled table (its `column`) or a folder of label folders."""
        if len(refs) != 1:
            raise ValueError("--task classification takes one reference")
        return score_labels(hyp, refs[0], column)

    def arrays(self, directory: Path, training: bool = False) -> LabelledArrays:
        """A prepared split: (source ids, label id) pairs (the same for training)."""
        return LabelledArrays(directory)

    def build_model(self, cfg: ModelConfig, tok: Tokenizer) -> nn.Module:
        """The classifier, its encoder started from `cfg.init_from`'s language model if set."""
        model = build_classifier(cfg, tok.src_vocab_size, len(self.labels))
        if cfg.init_from is not None:
            load_language_model(model.encoder, cfg.init_from, tok)
        return model

    def loss(self, model: nn.Module, b: LabelledBatch) -> torch.Tensor:
        """Summed over the batch's texts (optim.loss_per=sentence divides by their count)."""
        return F.cross_entropy(model(b.src).float(), b.labels, reduction="sum",
                               label_smoothing=self.label_smoothing)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        scores = torch.zeros(len(dev.pairs), len(self.labels))  # (N, C), in dev order
        total = 0.0
        for index in dev.pairs.batches(max_tokens=dev.max_tokens,
                                       max_sentences=dev.max_sentences, seed=0, epoch=0):
            b = dev.pairs.collate(index).to(device)
            logits = model(b.src).float()  # (B, C)
            total += float(F.cross_entropy(logits, b.labels, reduction="sum"))
            scores[torch.as_tensor(index, dtype=torch.long)] = logits.cpu()
        predicted = [self.labels[i] for i in scores.argmax(1).tolist()]
        gold = [self.labels[i] for i in dev.pairs.labels.tolist()]
        result = label_scores(predicted, gold, self.labels)
        return Evaluation({"loss": total / max(len(gold), 1), "labels": result},
                          best_value=result.accuracy, best_name="accuracy", predictions=predicted)


def load_language_model(encoder: nn.Module, run: str, tok: Tokenizer) -> None:
    """ULMFiT's start: a language model run's embedding and recurrent layers, copied into
    `encoder`; one line if it is not a language model or reads other pieces."""
    path = find_checkpoint(Path(run))
    state = checkpoint.load(path, map_location="cpu")
    if state.get("config", {}).get("task") != "language_model":
        raise ValueError(f"model.init_from: {path}: not a language model's run "
                         f"(task={state.get('config', {}).get('task')})")
    spm = Path(run) / "spm" / "tgt.model"
    if spm.read_bytes() != tok.src.serialized_model_proto():
        raise ValueError(f"model.init_from: {spm}: another sentencepiece model than this "
                         "run's (the language model's vocabulary differs)")
    weights = lm_encoder_weights(upgrade_weights(state["model"]), encoder,
                                 f"model.init_from: {path}")
    encoder.load_state_dict(weights, strict=False)


def score_labels(hyp_path: Path, ref_path: Path, label_column: str) -> list[str]:
    """Accuracy, macro-F1 and the confusion matrix (rows: reference, columns: predicted)."""
    input_file(hyp_path, "file")
    if not (ref_path.is_file() or ref_path.is_dir()):
        raise FileNotFoundError(f"{ref_path}: no such file")
    predicted = [line.strip() for line in read_lines(hyp_path)]
    if any(not p for p in predicted):
        raise ValueError(f"{hyp_path}:{predicted.index('') + 1}: empty label")
    labelled = ref_path.is_dir() or ref_path.name.removesuffix(".xz").endswith(TABLES)
    # only the labels are compared: a reference with no text column scores as well
    gold = ([label for _, label in read_label_column(ref_path, label_column)] if labelled
            else [line.strip() for line in read_lines(ref_path)])
    if len(gold) != len(predicted):
        raise ValueError(f"{ref_path} has {len(gold)} labels but {hyp_path} has "
                         f"{len(predicted)}")
    labels = label_set([("", "", g) for g in set(gold) | set(predicted)])
    result = label_scores(predicted, gold, labels)
    width = max(map(len, labels + ["gold"]))
    lines = [str(result), " " * width + "  " + " ".join(f"{label:>{width}}" for label in labels)]
    lines += [f"{label:>{width}}  " + " ".join(f"{n:>{width}}" for n in row)
              for label, row in zip(labels, result.confusion)]
    return lines
