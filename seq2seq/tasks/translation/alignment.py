"""Word alignments from attention, in Pharaoh format: `0-1 1-0 2-2`, one `i-j` per target
word j, i the source word it attends to most (words counted from 0, split at spaces).

A hypothesis's attention (`Hypothesis.attention`, seq2seq/decoding/search.py) is a row per
target piece (the weights it was chosen with, as OpenNMT-py and Marian take them; then
eos's row) over the source positions as the encoder read them: the pieces reversed
(model.reverse_source), then eos. Here the reversal is undone, eos dropped, and the weights
summed over the pieces of each source word and each target word:

    M[j, i] = sum of weights[t, s] over target pieces t of word j, source pieces s of word i

then each target word j is linked to argmax_i M[j, i]. Source words are the line split at
spaces, each encoded alone (`Tokenizer.source_words`: pieces never cross a space, so the
sentence's pieces are these, in order); target words are the pieces grouped at
sentencepiece's word marker, as the detokeniser joins them.
"""
from __future__ import annotations

from typing import Sequence

import torch

WORD_START = "\u2581"  # sentencepiece's space marker: a piece that starts a word


def target_words(pieces: Sequence[str]) -> list[int]:
    """The word index of each target piece (-1: a piece of no word, a bare marker that
    detokenises to a space)."""
    out, word, started = [], -1, False
    for piece in pieces:
        if piece.startswith(WORD_START) or not started:
            if piece.strip(WORD_START) == "":  # a bare marker: its word starts at the next
                out.append(-1)
                started = False
                continue
            word, started = word + 1, True
        out.append(word)
    return out


def source_words(piece_counts: Sequence[int]) -> list[int]:
    """The word index of each source piece, from the number of pieces of each word."""
    return [w for w, n in enumerate(piece_counts) for _ in range(n)]


def word_attention(weights: torch.Tensor, src_words: Sequence[int], tgt_words: Sequence[int],
                   reversed_source: bool) -> torch.Tensor:
    """weights (T, S) over the encoder's positions -> (target words, source words): the
    reversal undone, eos dropped, summed over the pieces of each word."""
    n = len(src_words)
    if weights.size(1) != n + 1 or weights.size(0) != len(tgt_words):
        raise ValueError(f"attention of shape {tuple(weights.shape)} for {len(tgt_words)} "
                         f"target pieces and {n} source pieces plus eos")
    pieces = weights[:, :n].float()
    if reversed_source:
        pieces = pieces.flip(1)  # position p held piece n - 1 - p
    by_src = torch.zeros(len(tgt_words), max(src_words, default=-1) + 1)
    by_src.index_add_(1, torch.as_tensor(list(src_words), dtype=torch.long), pieces)
    return sum_by_word(by_src, tgt_words)


def sum_by_word(rows: torch.Tensor, words: Sequence[int]) -> torch.Tensor:
    """(pieces, X) -> (words, X): each word's pieces' rows summed (-1: a piece of none)."""
    keep = [t for t, w in enumerate(words) if w >= 0]
    out = torch.zeros(max(words, default=-1) + 1, rows.size(1))
    out.index_add_(0, torch.as_tensor([words[t] for t in keep], dtype=torch.long),
                   rows[keep].float())
    return out


def hard_alignment(matrix: torch.Tensor) -> list[tuple[int, int]]:
    """(source word, target word) for each target word: its most attended source word."""
    if matrix.size(1) == 0:
        return []
    return [(int(i), j) for j, i in enumerate(matrix.argmax(dim=1).tolist())]


def pharaoh(links: Sequence[tuple[int, int]]) -> str:
    return " ".join(f"{i}-{j}" for i, j in links)


def line_attention(tok, line: str, hyp) -> tuple[list[str], list[str], torch.Tensor]:
    """A translated line's words, its hypothesis's words and the attention between them,
    (target words, source words), each target piece's weights those it was chosen with.
    `tok`: the run's Tokenizer; `hyp`: searched with attention."""
    words = line.split()
    counts = [len(ids) for ids in tok.src.encode(words)] if words else []
    pieces = [tok.tgt.id_to_piece(i) for i in hyp.ids]
    if hyp.attention is None:
        raise ValueError("the hypothesis was searched without attention")
    if sum(counts) + 1 != hyp.attention.size(1) or len(pieces) + 1 != hyp.attention.size(0):
        raise ValueError(f"{line[:40]!r}: attention of shape {tuple(hyp.attention.shape)} "
                         f"for {len(pieces)} target pieces and {sum(counts)} source pieces "
                         "plus eos")
    tgt = target_words(pieces)
    matrix = word_attention(hyp.attention[:-1], source_words(counts), tgt,  # eos's row off
                            tok.reverse_source)
    out_words = tok.decode_target([hyp.ids])[0].split()
    if len(out_words) != matrix.size(0):  # the detokeniser joined words otherwise
        out_words = [f"w{j}" for j in range(matrix.size(0))]
    return words, out_words, matrix


def alignment_line(tok, line: str, hyp) -> str:
    """Pharaoh links of a hypothesis of `line` ("" for an empty line)."""
    if not line.strip():
        return ""
    return pharaoh(hard_alignment(line_attention(tok, line, hyp)[2]))
