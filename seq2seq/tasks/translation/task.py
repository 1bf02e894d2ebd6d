"""Translation, the toolkit's core: source text -> target text through an encoder-decoder.

Token cross-entropy on (source, target) pairs; dev perplexity and dev BLEU (beam search with
the run's decode settings, detokenised, with sacrebleu's signature); best.pt on BLEU. Its
data node is parallel text (`seq2seq.config.schema.DataConfig`); `seq2seq-translate` reads its
runs; `seq2seq-score` gives BLEU and chrF.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from seq2seq.config.compose import (DataConfig, DecodeConfig, ModelConfig, TrainConfig,
                                    decode_settings)
from seq2seq.data.corpus import Batch, local_files
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.textfile import file_stamp, input_file, read_lines
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.data.tokens import PairArrays
from seq2seq.evaluation.metrics import bleu, chrf, ter
from seq2seq.models.encoder_decoder import build_model
from seq2seq.tasks.base import DevSet, Evaluation, Task, perplexity, token_loss
from seq2seq.tasks.translation.prepare import prepare_pairs
from seq2seq.tasks.translation.translator import Translator


class Translation(Task):
    data_config = DataConfig
    parts = "an encoder of text (model/encoder=rnn or birnn) and a decoder of text"
    command = "seq2seq-translate"
    predictor = Translator

    def __init__(self, tokenizer: Tokenizer, decode: DecodeConfig,
                 eval_max_sentences: Optional[int] = None, label_smoothing: float = 0.0):
        self.tokenizer, self.decode = tokenizer, decode
        self.eval_max_sentences, self.label_smoothing = eval_max_sentences, label_smoothing

    @classmethod
    def from_config(cls, cfg: TrainConfig, tokenizer: Tokenizer,
                    prepared: PreparedDir) -> "Translation":
        return cls(tokenizer, decode_settings(cfg), cfg.trainer.eval_max_sentences,
                   cfg.optim.label_smoothing)

    @classmethod
    def preparation(cls, cfg: TrainConfig) -> dict:
        """Parallel text is keyed on its data node and its files' sizes and times (a language
        model shares its corpus's preparation, and vocabulary, with translation)."""
        data = dataclasses.asdict(cfg.data)
        del data["num_proc"]  # how many processes encode changes nothing in the result
        return {"data": data, "files": file_stamp(local_files(cfg.data))}

    @classmethod
    def prepare(cls, cfg: TrainConfig, out: PreparedDir, clock) -> None:
        prepare_pairs(cfg, out, clock)

    @classmethod
    def score(cls, hyp: Path, refs: list[Path], column: str) -> list[str]:
        """BLEU, chrF and TER (sacrebleu, with their signatures) against line-aligned
        references."""
        for path in [hyp, *refs]:
            input_file(path, "file")
        hyps = list(read_lines(hyp))
        texts = [list(read_lines(r)) for r in refs]
        for path, ref in zip(refs, texts):
            if len(ref) != len(hyps):
                raise ValueError(f"{path} has {len(ref)} lines but {hyp} has {len(hyps)}")
        return [str(bleu(hyps, texts)), str(chrf(hyps, texts)), str(ter(hyps, texts))]

    def arrays(self, directory: Path, training: bool = False) -> PairArrays:
        """A prepared split: (source ids, target ids) pairs (the same for training)."""
        return PairArrays(directory)

    @classmethod
    def build_model(cls, cfg: ModelConfig, tok: Tokenizer) -> nn.Module:
        return build_model(cfg, tok.src_vocab_size, tok.tgt_vocab_size)

    def loss(self, model: nn.Module, b: Batch) -> torch.Tensor:
        return token_loss(model, b, self.label_smoothing)

    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        ppl = perplexity(model, dev, device)
        n = self.eval_max_sentences or len(dev.src)
        # the Translator searches under inference mode itself
        hyps = Translator(model, self.tokenizer, self.decode, device).translate(dev.src[:n])
        score = bleu(hyps, [dev.ref[:n]])
        return Evaluation({"ppl": ppl, "bleu": score}, best_value=score.score,
                          predictions=hyps, best_name="BLEU")
