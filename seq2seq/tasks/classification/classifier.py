"""The Python API of a classifier: a trained run (or an ensemble of runs) that labels text.

    from seq2seq import Classifier
    c = Classifier.from_run("runs/sentiment")
    c.predict(["A gorgeous, witty film.", "Two hours I will not get back."])  # ["pos", "neg"]
    c.probabilities(["A gorgeous, witty film."])   # (1, C) tensor, columns in c.labels order

Text goes the same way as in training: sentencepiece ids (`Tokenizer.encode_source`),
sorted by length and scored in batches, so most batches share one length (the encoder's
fast path: no packing); results come back in input order. Several runs make an ensemble
that averages the members' probabilities: they must share labels.txt and the sentencepiece
model. `seq2seq-classify` is a command-line shell over this class.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from seq2seq.config.compose import TrainConfig
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.decoding.trained import load_run
from seq2seq.export.locate import locate
from seq2seq.models import int8
from seq2seq.tasks.classification.labelled import read_labels
from seq2seq.tasks.classification.model import build_classifier
from seq2seq.training.hardware import pick_device
from seq2seq.training.rundir import RunDir


class Member(NamedTuple):
    """One loaded classifier run."""
    name: str  # as given: what an error names
    model: nn.Module  # in eval mode, on its device
    tokenizer: Tokenizer
    labels: list[str]  # label id i is labels[i]
    cfg: TrainConfig


def load_classifier(path: Path, device: torch.device) -> Member:
    """A run directory (its best.pt, else last.pt) or checkpoint file of a classifier run;
    one line if it is another task's run or its labels.txt is missing or empty."""
    def build(cfg: TrainConfig, tok: Tokenizer, run: RunDir) -> nn.Module:
        return build_classifier(cfg.model, tok.src_vocab_size, len(read_labels(run.labels)))
    r = load_run(path, "seq2seq-classify", build, device)
    return Member(str(path), r.model, r.tokenizer, read_labels(r.run.labels), r.cfg)


def check_members(members: list[Member]) -> None:
    """An ensemble's runs must read the same pieces and mean the same labels by the same
    ids: one line naming the first run that differs from the first."""
    first = members[0]
    pieces = first.tokenizer.src.serialized_model_proto()
    for m in members[1:]:
        if m.labels != first.labels:
            raise ValueError(f"{m.name}: its labels ({', '.join(m.labels)}) differ from "
                             f"{first.name}'s ({', '.join(first.labels)}); an ensemble "
                             "needs one labels.txt")
        if m.tokenizer.src.serialized_model_proto() != pieces:
            raise ValueError(f"{m.name}: its sentencepiece model differs from {first.name}'s; "
                             "an ensemble needs one vocabulary")
        if m.tokenizer.reverse_source != first.tokenizer.reverse_source:
            raise ValueError(f"{m.name}: model.reverse_source differs from {first.name}'s")


def check_texts(texts: Iterable[str], name: Optional[str] = None, first: int = 1) -> list[str]:
    """The texts, as a list; a classifier cannot label nothing: the first empty or
    whitespace-only text is an error naming `NAME:LINE` (or `line LINE`), numbered from
    `first`. Lazy input (a file being read) is checked as it comes, so the first bad line
    of any kind (not UTF-8, empty) is the one named."""
    out = []
    for number, text in enumerate(texts, start=first):
        if not text.strip():
            where = f"{name}:{number}" if name else f"line {number}"
            raise ValueError(f"{where}: empty text (a classifier cannot label nothing)")
        out.append(text)
    return out


class Classifier:
    """One or more classifier models, their tokenizer and their labels."""

    def __init__(self, models: Sequence[nn.Module], tokenizer: Tokenizer, labels: list[str],
                 device: torch.device, batch_size: int = 64):
        self.models = [m.eval() for m in models]
        self.tokenizer, self.labels, self.device = tokenizer, labels, device
        self.batch_size = batch_size  # texts scored together

    @classmethod
    def from_run(cls, *runs: str | Path, device: str = "auto") -> "Classifier":
        """From run directories or checkpoint files; several make an ensemble averaging
        the members' probabilities. The batch size is the first run's decode.batch_size."""
        if not runs:
            raise ValueError("Classifier.from_run needs at least one run directory")
        runs = locate(runs)  # hf://owner/name, an ensemble export's members
        dev = pick_device(device)
        members = [load_classifier(Path(r), dev) for r in runs]
        check_members(members)
        first = members[0]
        return cls([m.model for m in members], first.tokenizer, first.labels, dev,
                   batch_size=first.cfg.decode.batch_size)

    def use_precision(self, precision: str) -> None:
        """fp32 (the models as trained) or int8 (their LSTMs and linear layers quantised:
        seq2seq/models/int8.py; CPUs, lossy)."""
        self.trained = getattr(self, "trained", self.models)  # the fp32 models, kept
        self.models = int8.models_for(precision, self.trained, self.device, type(self).__name__)

    def endpoint(self, limits):
        """What seq2seq-serve answers with: POST /runs/NAME/classify."""
        from seq2seq.tasks.classification.serving import ClassifyEndpoint
        return ClassifyEndpoint(self, limits)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text (ValueError for an empty text)."""
        return [self.labels[i] for i in self.probabilities(texts).argmax(1).tolist()]

    def probabilities(self, texts: Sequence[str], progress: bool = False) -> torch.Tensor:
        """(N, C) probabilities of each text's labels, columns in `self.labels` order, rows
        in input order (the members' mean for an ensemble); `progress`: a bar on stderr."""
        check_texts(texts)
        ids = self.tokenizer.encode_source(list(texts)) if texts else []
        with tqdm(total=len(ids), desc="classifying", unit=" texts",
                  disable=not progress) as bar:
            return self.probabilities_of_ids(ids, bar.update)

    @torch.inference_mode()
    def probabilities_of_ids(self, src: Sequence[Sequence[int]],
                             done: Callable[[int], object] = lambda n: None) -> torch.Tensor:
        """(N, C) probabilities of encoded texts, in input order; `done(n)` hears of each
        batch's n texts as it finishes."""
        out = torch.zeros(len(src), len(self.labels))  # (N, C)
        order = sorted(range(len(src)), key=lambda j: len(src[j]))  # similar lengths together
        for start in range(0, len(order), self.batch_size):
            chunk = order[start: start + self.batch_size]
            batch = Source.of_ids([src[j] for j in chunk]).to(self.device)  # (B, S)
            probs = torch.stack([F.softmax(m(batch).float(), dim=-1)
                                 for m in self.models]).mean(0)  # (B, C)
            out[torch.tensor(chunk)] = probs.cpu()
            done(len(chunk))
        return out
