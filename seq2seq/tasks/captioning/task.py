"""Captioning: an image (or a video's frames) -> text. The decoder's token cross-entropy
over every (image, caption) pair; dev perplexity, and each dev image captioned once (beam
search with the run's decode settings) against all its references: BLEU-1..4 (sacrebleu,
signatures), CIDEr-D, exact match and character error rate; best.pt on CIDEr-D. Its data
node is `CaptionDataConfig`; `seq2seq-caption` reads its runs.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from seq2seq.config.compose import DecodeConfig, ModelConfig, TrainConfig, decode_settings
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.evaluation.metrics import Score
from seq2seq.tasks.base import Check, DevSet, Evaluation, perplexity
from seq2seq.tasks.captioning.arrays import CaptionArrays
from seq2seq.tasks.captioning.augment import Augmentation, augmentation_checks
from seq2seq.tasks.captioning.captioner import Captioner, image_shape, search_sources
from seq2seq.tasks.captioning.encoders import ImageShape, build_caption_model
from seq2seq.tasks.captioning.feature_cache import FrozenBackbone
from seq2seq.tasks.captioning.metrics import caption_scores, read_refs
from seq2seq.tasks.captioning.prepare import caption_stamp, prepare_captioned
from seq2seq.tasks.captioning.records import FORMATS, CaptionDataConfig
from seq2seq.tasks.translation.task import Translation


class Captioning(Translation):
    data_config = CaptionDataConfig
    reads = ("image", "frames")
    parts = ("images are captioned, and only they: task=captioning goes with model/encoder=image "
             "or model/encoder=frames")
    command = "seq2seq-caption"
    predictor = Captioner

    def __init__(self, tokenizer: Tokenizer, decode: DecodeConfig, image: ImageShape,
                 refs: list[list[str]], eval_max_sentences: Optional[int] = None,
                 label_smoothing: float = 0.0, frozen: Optional[FrozenBackbone] = None,
                 shift: int = 0, augmentation: Augmentation = Augmentation()):
        super().__init__(tokenizer, decode, eval_max_sentences, label_smoothing)
        self.image, self.refs, self.frozen, self.shift = image, refs, frozen, shift
        self.augmentation = augmentation

    @classmethod
    def from_config(cls, cfg: TrainConfig, tokenizer: Tokenizer,
                    prepared: PreparedDir) -> "Captioning":
        d, e = cfg.data, cfg.model.encoder
        frozen = (FrozenBackbone(e.backbone, e.weights, d.image_channels, d.image_height,
                                 d.image_width) if e.frozen else None)
        return cls(tokenizer, decode_settings(cfg), image_shape(cfg),
                   read_refs(prepared.refs("dev")), cfg.trainer.eval_max_sentences,
                   cfg.optim.label_smoothing, frozen, d.augment_shift, Augmentation.of(d))

    @classmethod
    def checks(cls, cfg: TrainConfig) -> list[Check]:
        d, enc = cfg.data, cfg.model.encoder
        return super().checks(cfg) + [
            ("data.caption_format", d.caption_format in FORMATS, " | ".join(FORMATS)),
            ("data.caption_columns", len(d.caption_columns) >= 1, "name at least one column"),
            ("data.image_channels", d.image_channels in (1, 3), "1 (grey) | 3 (RGB)"),
            ("data.image_height", d.image_height >= 1, "must be >= 1"),
            ("data.image_width", d.image_width >= 1, "must be >= 1"),
            ("data.hub_path", d.hub_path is None,
             "captioned images are read from data.local_dir (imagefolder, karpathy, flickr)"),
            ("data.augment_shift", d.augment_shift >= 0, "must be >= 0"),
            *augmentation_checks(d, getattr(enc, "frozen", False)),
        ]

    @classmethod
    def preparation(cls, cfg: TrainConfig) -> dict:
        """Images and their captions; augmentation happens in training, so one preparation
        serves every shift."""
        data = {key: value for key, value in dataclasses.asdict(cfg.data).items()
                if key != "num_proc" and not key.startswith("augment_")}
        # "caption": the task's id when preparations were first keyed (kept: same key)
        return {"task": "caption", "data": data, "files": caption_stamp(cfg.data)}

    @classmethod
    def prepare(cls, cfg: TrainConfig, out: PreparedDir, clock) -> None:
        prepare_captioned(cfg, out)
        clock.done("captioned images")

    def arrays(self, directory: Path, training: bool = False) -> CaptionArrays:
        """A prepared split: images (or a frozen backbone's cached grids) and pairs; for
        `training`, the images changed at random (data.augment_*), else as they are."""
        if not training:
            return CaptionArrays(directory, self.frozen)
        return CaptionArrays(directory, self.frozen, self.shift, self.augmentation)

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
        cider = Score("CIDEr-D", scores.cider_d, scores.scheme)  # logged with its scheme
        return Evaluation({"ppl": ppl, "bleu4": scores.bleu[3], "cider_d": cider,
                           "exact": scores.exact, "cer": scores.cer},
                          best_value=scores.cider_d, best_name="CIDEr-D", predictions=texts)
