"""A tagger's vocabularies, and tokens as its encoder reads them.

    spm/src.model   the words: a sentencepiece word model holding every training word seen at
                    least `data.min_count` times (the frequency cut); any other word is <unk>,
                    whose embedding training learns from the words below the cut
    spm/tgt.model   the characters the character model spells each word with (a
                    sentencepiece char model: every training character; others are <unk>)
    labels.txt      the tags, the training split's, sorted; line i is tag id i

The words and characters are sentencepiece models, as every run's vocabularies are, so the
run directory, resuming and an ensemble's checks treat them as any run's; their pieces are
chosen here (a count, not sentencepiece's training). A token is looked up whole: tokens are
the treebank's words, never split into pieces.

    token "Qaim" -> [word id | c("Q") c("a") c("i") c("m") 0 0 ...]   one row of (1 + W) ids
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

from seq2seq.data.tokenizer import PAD, Tokenizer

WORD_PREFIX = "\u2581"  # sentencepiece's mark of a word's start: a word model's pieces carry it
_SPECIALS = (("<pad>", pb.ModelProto.SentencePiece.CONTROL),
             ("<unk>", pb.ModelProto.SentencePiece.UNKNOWN),
             ("<s>", pb.ModelProto.SentencePiece.CONTROL),
             ("</s>", pb.ModelProto.SentencePiece.CONTROL))


def model_proto(pieces: Sequence[str], kind: str) -> bytes:
    """A sentencepiece model (`kind`: word | char) of exactly `pieces`, after the four special
    ids seq2seq gives every model (pad, unk, bos, eos = 0..3), text taken as it is."""
    m = pb.ModelProto()
    m.trainer_spec.model_type = pb.TrainerSpec.WORD if kind == "word" else pb.TrainerSpec.CHAR
    m.trainer_spec.vocab_size = len(_SPECIALS) + len(pieces)
    m.trainer_spec.pad_id, m.trainer_spec.unk_id = 0, 1
    m.trainer_spec.bos_id, m.trainer_spec.eos_id = 2, 3
    m.normalizer_spec.name = "identity"  # a token is looked up as written
    m.normalizer_spec.add_dummy_prefix = kind == "word"
    for rank, (piece, kind_) in enumerate([*_SPECIALS, *((p, 1) for p in pieces)]):
        entry = m.pieces.add()
        entry.piece, entry.type, entry.score = piece, kind_, -float(rank)
    return m.SerializeToString()


def word_pieces(sentences: Iterable[list[str]], min_count: int, lowercase: bool) -> list[str]:
    """Training words seen at least `min_count` times, most frequent first (ties by the word)."""
    counts = Counter(w.lower() if lowercase else w for tokens in sentences for w in tokens)
    kept = sorted((w for w, n in counts.items() if n >= min_count),
                  key=lambda w: (-counts[w], w))
    return [WORD_PREFIX + w for w in kept]


def char_pieces(sentences: Iterable[list[str]]) -> list[str]:
    """Every character of the training tokens, most frequent first."""
    counts = Counter(c for tokens in sentences for w in tokens for c in w)
    return sorted(counts, key=lambda c: (-counts[c], c))


class TokenEncoder:
    """Tokens -> the (1 + W) ids a row of the encoder's input holds: the word id, then the
    ids of its characters (a word longer than `max_chars` keeps its first and last
    max_chars / 2: its prefix and its suffix carry the most), padded with PAD."""

    def __init__(self, words: spm.SentencePieceProcessor, chars: spm.SentencePieceProcessor,
                 lowercase: bool, max_chars: int):
        self.words, self.chars = words, chars
        self.lowercase, self.max_chars = lowercase, max_chars

    @classmethod
    def of(cls, tokenizer: Tokenizer, lowercase: bool, max_chars: int) -> "TokenEncoder":
        return cls(tokenizer.src, tokenizer.tgt, lowercase, max_chars)

    def spelled(self, token: str) -> str:
        if len(token) <= self.max_chars:
            return token
        half = self.max_chars // 2
        return token[:half] + token[len(token) - (self.max_chars - half):]

    def rows(self, tokens: Sequence[str]) -> np.ndarray:
        """(N, 1 + W) ids of N tokens, W their longest spelling (at most max_chars)."""
        spellings = [self.spelled(t) for t in tokens]
        width = max((len(s) for s in spellings), default=0)
        out = np.full((len(tokens), 1 + width), PAD, dtype=np.int32)
        for i, (token, spelling) in enumerate(zip(tokens, spellings)):
            word = token.lower() if self.lowercase else token
            out[i, 0] = self.words.piece_to_id(WORD_PREFIX + word)
            out[i, 1: 1 + len(spelling)] = [self.chars.piece_to_id(c) for c in spelling]
        return out
