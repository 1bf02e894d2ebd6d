"""The encoder-decoder of Sutskever, Vinyals & Le (2014): an encoder and a decoder, composed.

    Source --encoder--> State (final (h, c) of every layer [+ memory]) --decoder--> logits
                                                    <bos> y1 y2 ... --^

The paper's model (the default): `text_encoder` (source embeddings, stacked LSTM, one
direction) and `recurrent_decoder` without attention. The encoder's final (h, c) of layer
l initialises layer l of the decoder and nothing else flows from source to target, so
the whole sentence must fit in that state. Variants are other parts (encoders.py,
decoder.py), chosen by `model.encoder` and `model.decoder` in the config.
"""
from __future__ import annotations

import importlib
from typing import Callable, Union

import torch
from torch import nn

from seq2seq.config.compose import ModelConfig
from seq2seq.data.sources import ImageShape, Source
from seq2seq.models.recurrent import State


class Seq2Seq(nn.Module):
    """Any encoder (`forward(source, memory) -> State`) with a decoder that reads it."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def encode(self, src: Source) -> State:
        """The decoder's initial state for each source row."""
        return self.decoder.start(self.encoder(src, memory=self.decoder.reads_memory))

    def forward(self, src: Source, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: the decoder's output at every target position, (B, T, H)."""
        return self.decoder(tgt_in, self.encode(src))

    def attention_weights(self, src: Source, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing's attention over the encoder's memory, (B, T, S)."""
        return self.decoder.attention_weights(tgt_in, self.encode(src))

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., H) -> (..., V) unnormalised scores over the target vocabulary."""
        return self.decoder.logits(hidden)

    def decode_step(self, tgt_ids: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step for search: previous tokens (N,) and state -> log-probs (N, V), state."""
        return self.decoder.decode_step(tgt_ids, state)


def build_model(cfg: ModelConfig, src_vocab: int, tgt_vocab: int) -> Seq2Seq:
    """The parts `model.encoder.build` and `model.decoder.build` name, composed; every
    parameter uniform(-init_range, init_range)."""
    return uniform_init(Seq2Seq(*build_parts(cfg, src_vocab, tgt_vocab)), cfg.init_range)


def build_parts(cfg: ModelConfig, src_vocab: int, out_size: int) -> tuple[nn.Module, nn.Module]:
    """(encoder, decoder) as `model.encoder.build` and `model.decoder.build` make them;
    `out_size`: the decoder's vocabulary, or a classifier head's labels."""
    return (builder(cfg.encoder.build)(cfg, src_vocab),
            builder(cfg.decoder.build)(cfg, out_size))


def uniform_init(model: nn.Module, init_range: float, keep: str = "\0") -> nn.Module:
    """Paper, section 3.4: "all of the LSTM's parameters with the uniform distribution
    between -0.08 and 0.08" -- embeddings, output layer and the options' layers too.
    Parameters named from `keep` keep theirs (an image encoder's CNN: pretrained, or
    initialised for convolutions and batch normalisation, whose scales must start at 1)."""
    for name, p in model.named_parameters():
        if not name.startswith(keep):
            nn.init.uniform_(p, -init_range, init_range)
    return model


# What a part's builder is given besides the model's config: one type for every part, the
# size of what it reads or writes. An int is a vocabulary (a text encoder's source pieces,
# a decoder's target pieces, a classifier head's labels); an ImageShape the images (or a
# video's frames) an image encoder reads, as the run saves them.
PartInput = Union[int, ImageShape]


def builder(path: str) -> Callable[[ModelConfig, PartInput], nn.Module]:
    """`package.module.function` -> the function (the config check has imported it once)."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


# Checkpoints written before the parts were split (issue 19) name the decoder's pieces at
# the top level; a prefix's first match renames it.
_OLD_NAMES = (("encoder.emb.", "encoder.embed."), ("tgt_emb.", "decoder.embed."),
              ("decoder.", "decoder.rnn."), ("attention.", "decoder.attention."),
              ("out.", "decoder.out."))


def upgrade_weights(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict in today's parameter names, whichever version wrote it."""
    if "tgt_emb.weight" not in weights:
        return weights
    def rename(key: str) -> str:
        for old, new in _OLD_NAMES:
            if key.startswith(old):
                return new + key[len(old):]
        return key
    return {rename(k): v for k, v in weights.items()}
