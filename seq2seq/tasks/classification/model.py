"""Many-to-one: a sequence encoder and a classification head, one score per label.

    Source --SequenceEncoder--> State --ClassifierHead--> pooled sentence vector --> linear
                                        final: the top layer's final state (the textbook)
                                        mean | max: over every position's top state (masked)

The encoder is the translation model's own part (seq2seq/models/encoders.py): the same embedding and
stacked RNN, one or two directions, so a language model's trained layers can start it.
The head is the part that reads the encoder's state, where a translation model has its
decoder.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seq2seq.config.compose import DecoderConfig, ModelConfig
from seq2seq.data.sources import Source
from seq2seq.models.encoder_decoder import build_parts, uniform_init
from seq2seq.models.recurrent import State

POOLINGS = ("final", "mean", "max")  # model.decoder.pooling
CLASSIFIER_HEAD = f"{__name__}.classifier_head"  # model.decoder.build of model/decoder=classifier


@dataclass
class ClassifierHeadConfig(DecoderConfig):
    """The node of model/decoder=classifier: how the head pools the encoder's states."""
    # Into one sentence vector: final (the top layer's last state, the textbook) | mean |
    # max (over every real position's top state)
    pooling: str = "final"


class ClassifierHead(nn.Module):
    """An encoder's state -> label scores (B, C). Padding never reaches the pooled vector:
    `final` is the state after each sentence's last real position, `mean` and `max` see
    only real positions (the mask)."""

    def __init__(self, pooling: str, hidden_dim: int, labels: int, dropout: float):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling: {' | '.join(POOLINGS)} (got {pooling})")
        self.pooling, self.drop = pooling, nn.Dropout(dropout)
        self.out = nn.Linear(hidden_dim, labels)

    @property
    def reads_memory(self) -> bool:
        """mean and max pool over every position's state; final needs only the last."""
        return self.pooling != "final"

    def forward(self, state: State) -> torch.Tensor:
        if self.pooling == "final":
            pooled = state.h[-1]  # (B, H): the top layer
        else:
            mask = state.mask.unsqueeze(-1)  # (B, S, 1)
            if self.pooling == "mean":
                pooled = (state.memory * mask).sum(1) / mask.sum(1).clamp(min=1)  # (B, H)
            else:
                pooled = state.memory.masked_fill(~mask, float("-inf")).amax(1)
        return self.out(self.drop(pooled))  # (B, C)


class SequenceClassifier(nn.Module):
    """Any encoder (`forward(source, memory) -> State`) with a head that reads its state."""

    def __init__(self, encoder: nn.Module, head: ClassifierHead):
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, src: Source) -> torch.Tensor:
        """(B, C) unnormalised label scores of each source row."""
        return self.head(self.encoder(src, memory=self.head.reads_memory))


def classifier_head(cfg: ModelConfig, labels: int) -> ClassifierHead:
    """The head `model/decoder=classifier` names: it reads the encoder's final state (or its
    states) at the model's size (a bidirectional encoder's bridge maps both ways to it)."""
    return ClassifierHead(cfg.decoder.pooling, cfg.hidden_dim, labels, cfg.dropout)


# It writes a label, not text (seq2seq/config/checks.py matches this with the task's `writes`),
# and checks its own key.
classifier_head.writes, classifier_head.config = "label", ClassifierHeadConfig
classifier_head.checks = lambda cfg: [("model.decoder.pooling", cfg.decoder.pooling in POOLINGS,
                                       " | ".join(POOLINGS))]


def build_classifier(cfg: ModelConfig, src_vocab: int, labels: int) -> SequenceClassifier:
    """The encoder `model.encoder.build` names and the head, every parameter uniform
    (-init_range, init_range) as in the translation model."""
    encoder, head = build_parts(cfg, src_vocab, labels)
    if getattr(encoder, "bridge_c", None) is not None:
        # The head reads no cell state: a bridge for it would never get a gradient (and
        # data parallelism refuses parameters that take no part in the loss).
        encoder.bridge_c = None
    return uniform_init(SequenceClassifier(encoder, head), cfg.init_range)


def lm_encoder_weights(lm_weights: dict[str, torch.Tensor], encoder: nn.Module,
                       where: str) -> dict[str, torch.Tensor]:
    """ULMFiT's start: a language model's embedding and recurrent layers (its decoder's
    `embed` and `rnn`) as a one-way sequence encoder's, ready for
    `encoder.load_state_dict(..., strict=False)`. One line naming `where` and the tensor if a
    size differs (another vocabulary, width or depth). A bidirectional encoder cannot take
    them: its upper layers read both directions, a language model's one."""
    if getattr(encoder.rnn, "bidirectional", False):
        raise ValueError(f"{where}: a language model reads one way; a bidirectional encoder's "
                         "upper layers read both (start a one-way encoder from it)")
    own = encoder.state_dict()
    out = {}
    for name, tensor in lm_weights.items():
        for lm_prefix, prefix in (("decoder.embed.", "embed."), ("decoder.rnn.", "rnn.")):
            if name.startswith(lm_prefix):
                target = prefix + name[len(lm_prefix):]
                if target not in own:
                    raise ValueError(f"{where}: the language model's '{name}' has no place in "
                                     f"this encoder (more layers than it has?)")
                if own[target].shape != tensor.shape:
                    raise ValueError(f"{where}: the language model's '{name}' is "
                                     f"{tuple(tensor.shape)}, this encoder's '{target}' is "
                                     f"{tuple(own[target].shape)} (another vocabulary or size)")
                out[target] = tensor
    if not out:
        raise ValueError(f"{where}: not a language model (no decoder.embed / decoder.rnn)")
    missing = [n for n in own if n.startswith("rnn.") and n not in out]
    if missing:
        raise ValueError(f"{where}: the language model has fewer layers than this encoder "
                         f"('{missing[0]}' missing)")
    return out
