"""Tasks: what a run learns, and so its loss, its dev metrics, which metric picks `best.pt`,
and the predictions it writes. The training loop calls the task and names no metric.

    translation      text -> text    token cross-entropy   dev ppl + BLEU (beam search,
                                                           detokenised)   best: BLEU
    language_model   nothing -> text token cross-entropy   dev ppl        best: ppl
    classify         text -> label   cross-entropy a text  dev accuracy, macro-F1, confusion
                                                                          best: accuracy
    caption          image -> text   token cross-entropy   dev ppl, BLEU-1..4, CIDEr-D, exact
                     (or video)                            match, CER (beam search against
                                                           every reference)  best: CIDEr-D

`task=` in the config picks one (seq2seq/config.py); `build_task` makes it. A task also
says what a prepared split is read as (`arrays`) and builds its model (`build_model`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seq2seq import checkpoint
from seq2seq.checkpoint import run_task
from seq2seq.caption_arrays import CaptionArrays
from seq2seq.caption_metrics import caption_scores, read_refs
from seq2seq.captioner import Captioner, search_sources
from seq2seq.classification import Classifier
from seq2seq.classifier import build_classifier, lm_encoder_weights
from seq2seq.config import DecodeConfig, ModelConfig, TrainConfig, decode_settings
from seq2seq.data import Batch, LabelledBatch
from seq2seq.feature_cache import FrozenBackbone
from seq2seq.labelled import read_labels
from seq2seq.metrics import LabelScores, Score, bleu, label_scores
from seq2seq.model import build_model, upgrade_weights
from seq2seq.prepared import PreparedDir
from seq2seq.rundir import find_checkpoint
from seq2seq.sample import Sampler
from seq2seq.tokenizer import PAD, Tokenizer
from seq2seq.tokens import LabelledArrays, PairArrays
from seq2seq.translator import Translator
from seq2seq.vision import ImageShape, build_caption_model

# {"ppl": 12.3, "bleu": Score(...)}; {"loss": 0.41, "labels": LabelScores(...)}
Metrics = dict[str, Union[float, Score, LabelScores]]


@dataclass
class DevSet:
    """The dev split as the tasks read it: token arrays (perplexity, labels) and text
    (BLEU; a classifier's dev.src and dev.ref: texts and labels)."""
    pairs: Union[PairArrays, LabelledArrays]
    src: list[str]
    ref: list[str]
    max_tokens: int  # batch sizes for perplexity: the training ones
    max_sentences: int


@dataclass
class Evaluation:
    metrics: Metrics
    best_value: float  # higher is better: what best.pt is kept on
    predictions: Optional[list[str]] = None  # one line per dev sentence read (dev.hyp)


def token_loss(model: nn.Module, b: Batch, label_smoothing: float = 0.0) -> torch.Tensor:
    """Summed cross-entropy over the real (non-pad) target tokens.

    Only real positions are projected to the vocabulary: padding costs no (tokens x V) work.
    """
    hidden = model(b.src, b.tgt_in)  # (B, T, H)
    mask = b.tgt_out != PAD
    logits = model.logits(hidden[mask]).float()  # (N, V): fp32 even under bf16 autocast
    return F.cross_entropy(logits, b.tgt_out[mask], reduction="sum",
                           label_smoothing=label_smoothing)


@torch.no_grad()
def perplexity(model: nn.Module, dev: DevSet, device: torch.device) -> float:
    """exp(mean cross-entropy per target token) on every dev pair, teacher forced."""
    total, tokens = 0.0, 0
    for index in dev.pairs.batches(max_tokens=dev.max_tokens, max_sentences=dev.max_sentences,
                                   seed=0, epoch=0):
        b = dev.pairs.collate(index).to(device)
        total += float(token_loss(model, b))
        tokens += b.n_tokens
    return math.exp(total / max(tokens, 1))


class Objective(nn.Module):
    """A task's loss over a model, as one module: data parallelism (DDP) wraps it whole."""

    def __init__(self, model: nn.Module, task: "Task"):
        super().__init__()
        self.model, self.task = model, task

    def forward(self, b: Batch) -> torch.Tensor:
        return self.task.loss(self.model, b)


class LanguageModelling:
    """The target side alone: perplexity is the measure, and picks best.pt."""

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    unit = "token"  # what the loss sums over (the log's loss/token and tokens/s)
    predictor = Sampler  # what seq2seq.load makes of a run

    def arrays(self, directory: Path, training: bool = False) -> PairArrays:
        """A prepared split: (source ids, target ids) pairs (the same for training)."""
        return PairArrays(directory)

    def build_model(self, cfg: ModelConfig, tok: Tokenizer) -> nn.Module:
        return build_model(cfg, tok.src_vocab_size, tok.tgt_vocab_size)

    def loss(self, model: nn.Module, b: Batch) -> torch.Tensor:
        return token_loss(model, b, self.label_smoothing)

    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        ppl = perplexity(model, dev, device)
        return Evaluation({"ppl": ppl}, best_value=-ppl)


class Translation(LanguageModelling):
    """Source text -> target text: dev perplexity and dev BLEU (beam search with the run's
    decode settings, detokenised, with sacrebleu's signature); best.pt on BLEU."""

    predictor = Translator

    def __init__(self, tokenizer: Tokenizer, decode: DecodeConfig,
                 eval_max_sentences: Optional[int] = None, label_smoothing: float = 0.0):
        super().__init__(label_smoothing)
        self.tokenizer, self.decode = tokenizer, decode
        self.eval_max_sentences = eval_max_sentences

    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        ppl = perplexity(model, dev, device)
        n = self.eval_max_sentences or len(dev.src)
        # the Translator searches under inference mode itself
        hyps = Translator(model, self.tokenizer, self.decode, device).translate(dev.src[:n])
        score = bleu(hyps, [dev.ref[:n]])
        return Evaluation({"ppl": ppl, "bleu": score}, best_value=score.score,
                          predictions=hyps)


class Classification:
    """Text -> one of `labels`: cross-entropy per text; dev accuracy, macro-F1 and the
    confusion matrix; best.pt on accuracy; the dev predictions are label names."""

    unit = "text"
    predictor = Classifier

    def __init__(self, labels: list[str], label_smoothing: float = 0.0):
        self.labels, self.label_smoothing = labels, label_smoothing

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
                          best_value=result.accuracy, predictions=predicted)


class Captioning(Translation):
    """Image (or video) -> text: the decoder's token cross-entropy over every (image,
    caption) pair; dev perplexity, and each dev image captioned once (beam search with the
    run's decode settings) against all its references: BLEU-1..4 (sacrebleu, signatures),
    CIDEr-D, exact match and character error rate; best.pt on CIDEr-D."""

    predictor = Captioner

    def __init__(self, tokenizer: Tokenizer, decode: DecodeConfig, image: ImageShape,
                 refs: list[list[str]], eval_max_sentences: Optional[int] = None,
                 label_smoothing: float = 0.0, frozen: Optional[FrozenBackbone] = None,
                 shift: int = 0):
        super().__init__(tokenizer, decode, eval_max_sentences, label_smoothing)
        self.image, self.refs, self.frozen, self.shift = image, refs, frozen, shift

    def arrays(self, directory: Path, training: bool = False) -> CaptionArrays:
        """A prepared split: images (or a frozen backbone's cached grids) and pairs; for
        `training`, the images shifted at random (data.augment_shift), else as they are."""
        return CaptionArrays(directory, self.frozen, self.shift if training else 0)

    def build_model(self, cfg: ModelConfig, tok: Tokenizer) -> nn.Module:
        return build_caption_model(cfg, self.image, tok.tgt_vocab_size)

    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        ppl = perplexity(model, dev, device)
        images: CaptionArrays = dev.pairs
        n = min(self.eval_max_sentences or images.n_images, images.n_images)
        step = self.decode.batch_size
        hyps = search_sources(model, (images.source(np.arange(i, min(i + step, n)))
                                      for i in range(0, n, step)), self.decode, device)
        texts = self.tokenizer.decode_target([h[0].ids for h in hyps])
        scores = caption_scores(texts, self.refs[:n], sequence=True)
        return Evaluation({"ppl": ppl, "bleu4": scores.bleu[3], "cider_d": scores.cider_d,
                           "exact": scores.exact, "cer": scores.cer},
                          best_value=scores.cider_d, predictions=texts)


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


Task = Union[Translation, LanguageModelling, Classification, Captioning]
TASKS = {"translation": Translation, "language_model": LanguageModelling,
         "classify": Classification, "caption": Captioning}


def load(*runs: str | Path, device: str = "auto"):
    """The predictor of the runs' task (`seq2seq.load`): a Translator, Classifier, Captioner
    or Sampler; several runs make an ensemble (the predictor checks that they fit)."""
    if not runs:
        raise ValueError("seq2seq.load needs at least one run directory")
    return TASKS[run_task(Path(runs[0]))].predictor.from_run(*runs, device=device)


def build_task(cfg: TrainConfig, tokenizer: Tokenizer, prepared: PreparedDir) -> Task:
    """The task `cfg.task` names, with its settings (a classifier: the prepared labels)."""
    smoothing = cfg.optim.label_smoothing
    if cfg.task == "language_model":
        return LanguageModelling(smoothing)
    if cfg.task == "classify":
        return Classification(read_labels(prepared.labels), smoothing)
    if cfg.task == "caption":
        d, e = cfg.data, cfg.model.encoder
        frozen = (FrozenBackbone(e.backbone, e.weights, d.image_channels, d.image_height,
                                 d.image_width) if e.frozen else None)
        image = ImageShape(d.image_channels, d.image_height, d.image_width)
        return Captioning(tokenizer, decode_settings(cfg), image,
                          read_refs(prepared.refs("dev")), cfg.trainer.eval_max_sentences,
                          smoothing, frozen, d.augment_shift)
    return Translation(tokenizer, decode_settings(cfg), cfg.trainer.eval_max_sentences,
                       smoothing)
