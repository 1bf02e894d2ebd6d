"""Many-to-many, one output per input: a sequence encoder over words and their spellings, and
a tag scored at every position (Plank, Sogaard and Goldberg 2016; Lample et al. 2016).

    token ids (B, S, 1 + W) --WordsAndChars--> (B, S, E + C) --SequenceEncoder--> memory
        word embedding (E) | char BiLSTM or CNN over the word's characters (C)   (B, S, H)
    memory --TokenHead--> dropout, linear: scores (B, S, T) [--CRF: Viterbi, NLL]

The encoder is the translation model's own `SequenceEncoder` (seq2seq/models/encoders.py:
stacked RNN, both directions by default, dropout) with another input layer, so a tagger
trained on one tag set can start another (`model.init_from`). Most of the accuracy on rare
and unknown words comes from the characters: "-ly", "-ed", a capital, a digit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from seq2seq.config.compose import DecoderConfig, EncoderConfig, ModelConfig
from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import PAD, UNK
from seq2seq.models.encoder_decoder import builder, uniform_init
from seq2seq.models.encoders import SequenceEncoder
from seq2seq.models.recurrent import stacked_rnn
from seq2seq.tasks.tagging.crf import CRF

CHAR_MODELS = ("lstm", "cnn", "none")


class Vocabularies(NamedTuple):
    """What the word encoder's builder is given (its PartInput): the vocabularies' sizes."""
    words: int
    chars: int


@dataclass
class WordEncoderConfig(EncoderConfig):
    """The node of model/encoder=words: words and their characters, read both ways."""
    bidirectional: bool = True  # a token's tag depends on the words after it as well
    char: str = "lstm"  # lstm (Lample; Plank) | cnn (Ma and Hovy) | none (words alone)
    char_emb_dim: int = 32  # a character's vector
    char_dim: int = 100  # a word's spelling vector (an LSTM's two directions together)
    # In training, a word is read as <unk> with this probability (its spelling is still
    # read): the unknown-word path learns from every word, not from the rarest alone
    word_dropout: float = 0.0


class CharLSTM(nn.Module):
    """A word's characters -> the final states of a BiLSTM over them, both ways (N, C)."""

    def __init__(self, chars: int, emb_dim: int, out_dim: int):
        super().__init__()
        self.embed = nn.Embedding(chars, emb_dim)
        self.rnn = nn.LSTM(emb_dim, out_dim // 2, batch_first=True, bidirectional=True)
        self.out_dim = out_dim // 2 * 2

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        lens = (chars != PAD).sum(1)  # (N,), all >= 1
        packed = pack_padded_sequence(self.embed(chars), lens.cpu(), batch_first=True,
                                      enforce_sorted=False)
        _, (h, _) = self.rnn(packed)  # (2, N, C/2)
        return torch.cat([h[0], h[1]], dim=1)  # (N, C)


class CharCNN(nn.Module):
    """A word's characters -> the max over positions of a width-3 convolution (N, C)."""

    def __init__(self, chars: int, emb_dim: int, out_dim: int):
        super().__init__()
        self.embed = nn.Embedding(chars, emb_dim)
        self.conv = nn.Conv1d(emb_dim, out_dim, kernel_size=3, padding=1)
        self.out_dim = out_dim

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.embed(chars).transpose(1, 2))  # (N, C, W)
        return x.masked_fill((chars == PAD).unsqueeze(1), float("-inf")).amax(2)


class WordsAndChars(nn.Module):
    """(B, S, 1 + W) ids -> (B, S, E + C): the word's embedding beside its spelling's
    vector. Each distinct spelling of a batch is read once. In training, `word_dropout` of
    the words are read as <unk>."""

    def __init__(self, words: nn.Embedding, chars: Optional[nn.Module],
                 word_dropout: float = 0.0):
        super().__init__()
        self.words, self.chars, self.word_dropout = words, chars, word_dropout

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        word_ids = ids[..., 0]  # (B, S)
        if self.training and self.word_dropout > 0:
            dropped = torch.rand(word_ids.shape, device=ids.device) < self.word_dropout
            word_ids = word_ids.masked_fill(dropped & (word_ids != PAD), UNK)
        x = self.words(word_ids)  # (B, S, E)
        if self.chars is None:
            return x
        B, S, W1 = ids.shape
        spellings = ids[..., 1:].reshape(B * S, W1 - 1)
        distinct, inverse = torch.unique(spellings, dim=0, return_inverse=True)  # (U, W)
        real = (distinct != PAD).any(1)  # padding positions spell nothing
        vectors = x.new_zeros(distinct.size(0), self.chars.out_dim)  # (U, C)
        if bool(real.any()):
            vectors[real] = self.chars(distinct[real]).to(x.dtype)
        return torch.cat([x, vectors[inverse].view(B, S, -1)], dim=2)


def word_encoder(cfg: ModelConfig, vocab: Vocabularies) -> SequenceEncoder:
    """model/encoder=words: word embeddings (`model.emb_dim`) and a character model
    (`model.encoder.char`) -> stacked RNN, both ways (`model.encoder.hidden_dim` each)."""
    e = cfg.encoder
    char_model = {"lstm": CharLSTM, "cnn": CharCNN}.get(e.char)
    chars = char_model(vocab.chars, e.char_emb_dim, e.char_dim) if char_model else None
    input_dim = cfg.emb_dim + (chars.out_dim if chars is not None else 0)
    encoder = SequenceEncoder(
        WordsAndChars(nn.Embedding(vocab.words, cfg.emb_dim), chars, e.word_dropout),
        stacked_rnn(cfg.cell, input_dim, e.hidden_dim or cfg.hidden_dim, cfg.layers,
                    cfg.dropout, e.bidirectional),
        cfg.dropout, decoder_dim=cfg.hidden_dim)
    encoder.bridge_c = None  # the head reads no cell state (DDP refuses unused parameters)
    return encoder


word_encoder.reads, word_encoder.config = "words", WordEncoderConfig
word_encoder.checks = lambda cfg: [
    ("model.encoder.char", cfg.encoder.char in CHAR_MODELS, " | ".join(CHAR_MODELS)),
    ("model.encoder.char_dim", cfg.encoder.char_dim >= 2, "must be >= 2"),
    ("model.encoder.char_emb_dim", cfg.encoder.char_emb_dim >= 1, "must be >= 1"),
    ("model.encoder.word_dropout", 0 <= cfg.encoder.word_dropout < 1, "must be in [0, 1)")]


@dataclass
class TokenHeadConfig(DecoderConfig):
    """The node of model/decoder=tags: a tag per position, perhaps through a CRF."""
    crf: bool = False  # a linear-chain CRF over the scores: Viterbi decoding, sequence NLL


class TokenHead(nn.Module):
    """Every position's encoder state -> its tag scores (B, S, T); `crf` if it has one."""

    def __init__(self, hidden_dim: int, tags: int, dropout: float, crf: bool):
        super().__init__()
        self.drop, self.out = nn.Dropout(dropout), nn.Linear(hidden_dim, tags)
        self.crf = CRF(tags) if crf else None

    def forward(self, memory: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(memory))


def token_head(cfg: ModelConfig, tags: int) -> TokenHead:
    return TokenHead(cfg.hidden_dim, tags, cfg.dropout, cfg.decoder.crf)


token_head.writes, token_head.config = "tags", TokenHeadConfig
token_head.checks = lambda cfg: [("model.decoder.attention", cfg.decoder.attention == "none",
                                  "none: a tag head reads every position's own state")]


class SequenceTagger(nn.Module):
    """An encoder that keeps every position's state, and a head scoring each position."""

    def __init__(self, encoder: nn.Module, head: TokenHead):
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, src: Source) -> torch.Tensor:
        """(B, S, T) tag scores of every position (padding positions' are meaningless)."""
        return self.head(self.encoder(src, memory=True).memory)

    def probabilities(self, scores: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """(B, S, T) each token's tag probabilities from its scores: a softmax, or the
        CRF's marginals."""
        if self.head.crf is None:
            return scores.float().softmax(-1)
        return self.head.crf.marginals(scores, lens)


def build_tagger(cfg: ModelConfig, vocab: Vocabularies, tags: int) -> SequenceTagger:
    """The encoder `model.encoder.build` names and the head `model.decoder.build` names,
    every parameter uniform(-init_range, init_range) as in the translation model (the CRF's
    transitions too)."""
    encoder = builder(cfg.encoder.build)(cfg, vocab)
    head = builder(cfg.decoder.build)(cfg, tags)
    return uniform_init(SequenceTagger(encoder, head), cfg.init_range)
