"""A task of our own, plugged in from outside the package: copy a sequence of numbers and
tag each with its parity.

    "3 8 5"  ->  "3 odd 8 even 5 odd"

    seq2seq-train hydra.searchpath=[file://tests/plugins/conf] experiment=parity \\
        data.local_dir=DIR          (with tests/plugins on PYTHONPATH)

It has what every task has, and nothing in seq2seq/ names it (the config's `task` does):
its data node (`ParityData`: where the number files are and the two tag words), its
preparation (number lines -> tagged targets, word vocabularies, token arrays), its model
(the shared parts, composed here), its metric (tag accuracy: numbers copied and tagged
right, position by position; best.pt on it), its scoring (`seq2seq-score --task
parity_task.Parity`) and its predictor (`ParityTagger`, which `seq2seq.load` and
seq2seq-translate use: its runs are text in, text out).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import torch
from torch import nn

from seq2seq.config.compose import CorpusConfig, ModelConfig, TrainConfig
from seq2seq.data.prepared import PreparedDir
from seq2seq.data.textfile import file_stamp, read_lines
from seq2seq.data.tokenizer import Tokenizer, train_spm
from seq2seq.data.tokens import id_dtype, write_pairs
from seq2seq.models.decoder import recurrent_decoder
from seq2seq.models.encoder_decoder import Seq2Seq, uniform_init
from seq2seq.models.encoders import text_encoder
from seq2seq.tasks.base import Check, DevSet, Evaluation, perplexity
from seq2seq.tasks.translation.task import Translation
from seq2seq.tasks.translation.translator import Translator


@dataclass
class ParityData(CorpusConfig):
    """f"{local_dir}/{split}.txt": whitespace-separated whole numbers, a sequence a line."""
    tags: list[str] = field(default_factory=lambda: ["even", "odd"])  # parity 0's and 1's


def tagged(line: str, tags: list[str]) -> str:
    return " ".join(f"{n} {tags[int(n) % 2]}" for n in line.split())


def tag_accuracy(hyps: list[str], refs: list[str]) -> float:
    """Percent of reference words (numbers and tags) matched at their position."""
    right = sum(h == r for hyp, ref in zip(hyps, refs) for h, r in zip(hyp.split(), ref.split()))
    return 100 * right / max(sum(len(ref.split()) for ref in refs), 1)


class ParityTagger(Translator):
    """A Translator whose outputs are (number, tag) pairs."""

    def tag(self, lines: list[str]) -> list[list[tuple[str, str]]]:
        out = [text.split() for text in self.translate(lines)]
        return [list(zip(words[::2], words[1::2])) for words in out]


class Parity(Translation):
    data_config = ParityData
    command = "seq2seq-translate"
    predictor = ParityTagger

    @classmethod
    def checks(cls, cfg: TrainConfig) -> list[Check]:
        return super().checks(cfg) + [
            ("data.tags", len(cfg.data.tags) == 2 and len(set(cfg.data.tags)) == 2,
             "two different words: parity 0's and parity 1's"),
            ("data.local_dir", cfg.data.local_dir is not None, "the number files' folder")]

    @classmethod
    def preparation(cls, cfg: TrainConfig) -> dict:
        data = dataclasses.asdict(cfg.data)
        del data["num_proc"]
        return {"task": "parity", "data": data, "files": file_stamp(cls.files(cfg))}

    @classmethod
    def files(cls, cfg: TrainConfig) -> list[Path]:
        d = cfg.data
        return [Path(d.local_dir) / f"{s}.txt" for s in (d.train_split, d.dev_split, d.test_split)]

    @classmethod
    def prepare(cls, cfg: TrainConfig, out: PreparedDir, clock) -> None:
        d, t = cfg.data, cfg.tokenizer
        train, dev, test = ([line.strip() for line in read_lines(path)] for path in cls.files(cfg))
        train = train[: d.max_train_sentences]
        for side, size, lines in (("src", t.src_vocab_size, train),
                                  ("tgt", t.tgt_vocab_size, [tagged(x, d.tags) for x in train])):
            train_spm(lines, out.spm / side, vocab_size=size, model_type="word", seed=t.seed)
        tok = Tokenizer.load(out.spm, reverse_source=cfg.model.reverse_source)
        for lines, src, ref in ((dev, out.dev_src, out.dev_ref),
                                (test, out.test_src, out.test_ref)):
            src.write_text("".join(x + "\n" for x in lines))
            ref.write_text("".join(tagged(x, d.tags) + "\n" for x in lines))
        for lines, folder in ((train, out.train), (dev, out.dev)):
            lines = [x for x in lines if x and len(x.split()) <= d.max_len]
            targets = [tagged(x, d.tags) for x in lines]
            ids = [pa.array(side, type=pa.list_(pa.int32()))
                   for side in (tok.encode_source(lines), tok.encode_target(targets))]
            write_pairs(folder, [tuple(ids)], {"src": id_dtype(tok.src_vocab_size),
                                               "tgt": id_dtype(tok.tgt_vocab_size)})
        clock.done("parity pairs")

    @classmethod
    def build_model(cls, cfg: ModelConfig, tok: Tokenizer) -> nn.Module:
        """The shared encoder and decoder, composed here (whatever model.*.build say)."""
        model = Seq2Seq(text_encoder(cfg, tok.src_vocab_size),
                        recurrent_decoder(cfg, tok.tgt_vocab_size))
        return uniform_init(model, cfg.init_range)

    @classmethod
    def score(cls, hyp: Path, refs: list[Path], column: str) -> list[str]:
        hyps, ref = list(read_lines(hyp)), list(read_lines(refs[0]))
        return [f"tag accuracy = {tag_accuracy(hyps, ref):.2f} (numbers and tags by position)"]

    def evaluate(self, model: nn.Module, dev: DevSet, device: torch.device) -> Evaluation:
        ppl = perplexity(model, dev, device)
        hyps = Translator(model, self.tokenizer, self.decode, device).translate(dev.src)
        accuracy = tag_accuracy(hyps, dev.ref)
        return Evaluation({"ppl": ppl, "tag_acc": accuracy}, best_value=accuracy,
                          predictions=hyps)
