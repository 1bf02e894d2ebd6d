"""The Python API of a tagger: a trained run (or an ensemble of runs) that tags tokens.

    import seq2seq
    t = seq2seq.load("runs/upos")                      # a Tagger
    t.tag([["I", "saw", "her", "duck", "."]])          # [["PRON", "VERB", "PRON", "NOUN", "PUNCT"]]
    t.predict(["I saw her duck ."])                    # ["PRON VERB PRON NOUN PUNCT"]
    t.probabilities([["I", "saw"]])                    # [(2, T) tensor], columns in t.tags order

Tokens go the same way as in training (vocab.TokenEncoder: word id and characters), sorted
by length and tagged in batches; results come back in input order. One run decodes its
best sequence (Viterbi with a CRF, else each token's most probable tag); several make an
ensemble that averages the members' per-token probabilities (a CRF member's marginals) and
takes each token's most probable tag. An empty sentence gets no tags. `seq2seq-tag` is a
command-line shell over this class.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import torch
from torch import nn

from seq2seq.config.compose import TrainConfig
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import PAD, Tokenizer
from seq2seq.decoding.trained import load_run
from seq2seq.export.locate import locate
from seq2seq.models import int8
from seq2seq.tasks.classification.labelled import read_labels
from seq2seq.tasks.tagging.model import Vocabularies, build_tagger
from seq2seq.tasks.tagging.vocab import TokenEncoder
from seq2seq.training.hardware import pick_device
from seq2seq.training.rundir import RunDir


class Member(NamedTuple):
    name: str  # as given: what an error names
    model: nn.Module  # in eval mode, on its device
    tokenizer: Tokenizer
    tags: list[str]
    cfg: TrainConfig


def load_tagger(path: Path, device: torch.device) -> Member:
    """A tagger's run directory (its best.pt, else last.pt) or checkpoint file; one line if
    it is another task's run or its labels.txt is missing or empty."""
    def build(cfg: TrainConfig, tok: Tokenizer, run: RunDir) -> nn.Module:
        return build_tagger(cfg.model, Vocabularies(tok.src_vocab_size, tok.tgt_vocab_size),
                            len(read_labels(run.labels)))
    r = load_run(path, "seq2seq-tag", build, device)
    return Member(str(path), r.model, r.tokenizer, read_labels(r.run.labels), r.cfg)


def check_members(members: list[Member]) -> None:
    """An ensemble's runs must share tags, words, characters and how words are looked up."""
    first = members[0]
    def spelled(m: Member):
        return (m.tokenizer.src.serialized_model_proto(), m.tokenizer.tgt.serialized_model_proto(),
                m.cfg.data.lowercase, m.cfg.data.max_word_chars)
    for m in members[1:]:
        if m.tags != first.tags:
            raise ValueError(f"{m.name}: its tags ({' '.join(m.tags)}) differ from "
                             f"{first.name}'s; an ensemble needs one labels.txt")
        if spelled(m) != spelled(first):
            raise ValueError(f"{m.name}: its words, characters or data.lowercase / "
                             f"data.max_word_chars differ from {first.name}'s; an ensemble "
                             "reads tokens one way")


def best_tags(model: nn.Module, scores: torch.Tensor, lens: torch.Tensor) -> list[list[int]]:
    """Each row's tag ids: Viterbi through the model's CRF, else each position's argmax."""
    if model.head.crf is not None:
        return model.head.crf.viterbi(scores, lens)
    return [row[:n] for row, n in zip(scores.argmax(-1).tolist(), lens.tolist())]


class Tagger:
    """One or more tagger models, their vocabularies and their tags."""

    def __init__(self, models: Sequence[nn.Module], encoder: TokenEncoder, tags: list[str],
                 device: torch.device, batch_size: int = 64):
        self.models = [m.eval() for m in models]
        self.encoder, self.tags, self.device = encoder, tags, device
        self.batch_size = batch_size  # sentences tagged together

    @classmethod
    def from_run(cls, *runs: str | Path, device: str = "auto") -> "Tagger":
        """From run directories or checkpoint files; several make an ensemble."""
        if not runs:
            raise ValueError("Tagger.from_run needs at least one run directory")
        runs = locate(runs)  # hf://owner/name, an ensemble export's members
        dev = pick_device(device)
        members = [load_tagger(Path(r), dev) for r in runs]
        check_members(members)
        first = members[0]
        d = first.cfg.data
        return cls([m.model for m in members],
                   TokenEncoder.of(first.tokenizer, d.lowercase, d.max_word_chars),
                   first.tags, dev, batch_size=first.cfg.decode.batch_size)

    def use_precision(self, precision: str) -> None:
        """fp32 (the models as trained) or int8 (their LSTMs and linear layers quantised:
        seq2seq/models/int8.py; CPUs, lossy)."""
        self.trained = getattr(self, "trained", self.models)  # the fp32 models, kept
        self.models = int8.models_for(precision, self.trained, self.device, type(self).__name__)

    def endpoint(self, limits):
        """What seq2seq-serve answers with: POST /runs/NAME/tag."""
        from seq2seq.tasks.tagging.serving import TagEndpoint
        return TagEndpoint(self, limits)

    def predict(self, lines: Sequence[str]) -> list[str]:
        """Whitespace-tokenised lines -> their tags, space-separated (an empty line: "")."""
        return [" ".join(tags) for tags in self.tag([line.split() for line in lines])]

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Each sentence's tags, one per token."""
        out: list = [[] for _ in sentences]
        for rows, scores, lens in self._batches(sentences):
            if len(self.models) == 1:
                ids = best_tags(self.models[0], scores[0], lens)
            else:
                probs = self._mean_probabilities(scores, lens)
                ids = [row[:n] for row, n in zip(probs.argmax(-1).tolist(), lens.tolist())]
            for j, tag_ids in zip(rows, ids):
                out[j] = [self.tags[t] for t in tag_ids]
        return out

    def probabilities(self, sentences: Sequence[Sequence[str]]) -> list[torch.Tensor]:
        """Each sentence's (n, T) tag probabilities, columns in `self.tags` order (the
        members' mean for an ensemble)."""
        out = [torch.zeros(0, len(self.tags)) for _ in sentences]
        for rows, scores, lens in self._batches(sentences):
            probs = self._mean_probabilities(scores, lens).cpu()
            for j, p, n in zip(rows, probs, lens.tolist()):
                out[j] = p[:n]
        return out

    def _mean_probabilities(self, scores: list[torch.Tensor], lens: torch.Tensor) -> torch.Tensor:
        """(B, S, T): the members' per-token probabilities (softmax, or CRF marginals), averaged."""
        return torch.stack([m.probabilities(s, lens) for m, s in zip(self.models, scores)]).mean(0)

    @torch.inference_mode()
    def _batches(self, sentences: Sequence[Sequence[str]]
                 ) -> Iterator[tuple[list[int], list[torch.Tensor], torch.Tensor]]:
        """(rows, each member's (B, S, T) scores, lengths) of the non-empty sentences, in
        batches of similar length (an empty sentence has nothing to tag)."""
        order = sorted((j for j, s in enumerate(sentences) if s),
                       key=lambda j: len(sentences[j]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start: start + self.batch_size]
            src = self.source([sentences[j] for j in rows]).to(self.device)
            yield rows, [m(src).float() for m in self.models], src.lens

    def source(self, sentences: Sequence[Sequence[str]]) -> Source:
        """Sentences as a (B, S, 1 + W) batch of word and character ids."""
        encoded = [torch.from_numpy(self.encoder.rows(list(s))).long() for s in sentences]
        S = max(e.size(0) for e in encoded)
        W = max(e.size(1) for e in encoded)
        values = torch.full((len(encoded), S, W), PAD, dtype=torch.long)
        for i, e in enumerate(encoded):
            values[i, : e.size(0), : e.size(1)] = e
        return Source(values, torch.tensor([e.size(0) for e in encoded]))
