"""Left-to-right decoding: greedy and batched beam search.

Both take any model with `encode(source) -> state` and
`decode_step(tokens, state) -> (log_probs, state)`, where `state.select(rows)` reorders it;
what the source is (`seq2seq.data.sources.Source`) only the model's encoder knows.

Beam search keeps a (sentences x beam) grid of hypotheses. Each step:

    log p (A*K, V) --+ scores (A, K, 1) --> top 2K of K*V per sentence
                     |   eos candidates ranked in the top K  -> finished hypotheses
                     |   the best K that do not end in eos   -> next grid
    one index_select reorders the state rows and drops sentences that are done.

The row layout is search's: a sentence's K hypotheses are consecutive rows of the state,
and its memory (attention) is held once for them (`State.by_memory` reads it that way).

Asked for (`attention=True`), each hypothesis also carries the attention of its own path:
at each of its tokens, the weights over the source positions (as the encoder read them)
with which that token was chosen. Not asked for, nothing is kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from seq2seq.data.sources import Source
from seq2seq.decoding import heap
from seq2seq.data.tokenizer import BOS, EOS, PAD


@dataclass
class Hypothesis:
    ids: list[int]  # target ids, without bos and eos
    score: float  # sum of log-probabilities (with eos), length-normalised if asked
    # (len(ids) + 1, S) fp32 on the CPU, when asked: row t the weights over the S source
    # positions the encoder read (text: the pieces as fed, reversed, then eos) with which
    # token t was chosen; the last row eos's
    attention: Optional[torch.Tensor] = None


def max_lengths(src_lens: torch.Tensor, a: float, b: int,
                cap: Optional[int] = None) -> torch.Tensor:
    """Hypotheses end at a * source_length + b tokens (eos excluded), and at `cap`."""
    return (src_lens.float() * a + b).long().clamp(min=1, max=cap)


def mask_specials(log_probs: torch.Tensor, at_max: torch.Tensor) -> torch.Tensor:
    """No pad or bos is ever produced; a row whose length is used up may only end."""
    log_probs[:, PAD] = float("-inf")
    log_probs[:, BOS] = float("-inf")
    if bool(at_max.any()):
        eos = log_probs[at_max, EOS]
        log_probs[at_max] = float("-inf")
        log_probs[at_max, EOS] = eos
    return log_probs


def greedy(model, src: Source, max_len: torch.Tensor, length_penalty: float = 0.0,
           attention: bool = False) -> list[Hypothesis]:
    """The most probable next token at each step, until eos or the maximum length; scored
    as beam search scores (so beam size 1 gives the same hypotheses and scores)."""
    ids, scores, weights = left_to_right(model, src, max_len, lambda lp: lp.argmax(-1),
                                         attention)
    return [Hypothesis(out, score / (len(out) + 1) ** length_penalty, w)
            for out, score, w in zip(ids, scores, weights)]


NO_ATTENTION = "this model has no attention to return (model.decoder.attention=none)"


def step_weights(state) -> torch.Tensor:
    """The attention of the step that made `state`, (N, S) in fp32."""
    if state.weights is None:
        raise ValueError(NO_ATTENTION)
    return state.weights.float()


def memory_lengths(state) -> list[int]:
    """The real memory positions of each sentence (its source pieces, or image cells)."""
    if state.mask is None:
        raise ValueError(NO_ATTENTION)
    return state.mask.sum(dim=1).tolist()


def _trim(weights: list[torch.Tensor], length: int, width: int) -> torch.Tensor:
    """A hypothesis's weights, a (S_batch,) row per token -> (T, length): its own source's
    positions, on the CPU."""
    return (torch.stack(weights) if weights else torch.zeros(0, width))[:, :length].cpu()


@torch.inference_mode()
def left_to_right(model, src: Source, max_len: torch.Tensor,
                  choose: Callable[[torch.Tensor], torch.Tensor], attention: bool = False
                  ) -> tuple[list[list[int]], list[float], list[Optional[torch.Tensor]]]:
    """One hypothesis per sentence: `choose` picks each next token from the (B, V)
    log-probabilities (argmax: greedy; a draw: sampling), until eos or the maximum length.
    Returns the tokens (without eos), the sum of their log-probabilities (with eos) and,
    if asked, each token's attention (T, S) (else None)."""
    B, device = src.rows, src.lens.device
    if device.type == "cpu":
        heap.keep()  # the step's buffers stay in the heap (heap.py)
    state = model.encode(src)
    if attention:
        lengths, width = memory_lengths(state), state.mask.size(1)
    tokens = torch.full((B,), BOS, dtype=torch.long, device=device)
    out: list[list[int]] = [[] for _ in range(B)]
    kept: list[list[torch.Tensor]] = [[] for _ in range(B)]  # attention, when asked
    scores = torch.zeros(B, device=device)
    rows = torch.arange(B, device=device)  # the sentence of each row still decoding
    max_len = max_len.to(device)
    for t in range(int(max_len.max()) + 1):
        log_probs, state = model.decode_step(tokens, state)
        log_probs = mask_specials(log_probs, max_len == t)
        tokens = choose(log_probs)  # (A,) for A rows left
        scores[rows] += log_probs.gather(1, tokens.unsqueeze(1)).squeeze(1)
        going = tokens != EOS
        for i, token in zip(rows[going].tolist(), tokens[going].tolist()):
            out[i].append(token)
        if attention:  # every row's, eos's too
            for i, w in zip(rows.tolist(), step_weights(state)):
                kept[i].append(w)
        if not bool(going.all()):  # finished sentences leave the batch: no work on them
            if not bool(going.any()):
                break
            keep = going.nonzero().flatten()
            state, tokens, max_len, rows = (state.select(keep, keep), tokens[keep],
                                            max_len[keep], rows[keep])
    if not attention:
        return out, scores.tolist(), [None] * B
    return out, scores.tolist(), [_trim(w, n, width) for w, n in zip(kept, lengths)]


@torch.inference_mode()
def beam_search(model, src: Source, max_len: torch.Tensor, *, beam_size: int,
                length_penalty: float = 0.0, nbest: int = 1,
                attention: bool = False) -> list[list[Hypothesis]]:
    """The `nbest` best hypotheses of each sentence, best first."""
    B, K, device = src.rows, beam_size, src.lens.device
    if device.type == "cpu":
        heap.keep()  # the step's buffers stay in the heap (heap.py)
    sent = torch.arange(B, device=device)  # original index of each active sentence
    rows = sent.repeat_interleave(K)
    state = model.encode(src).select(rows)  # (L, B*K, H); memory (B, S, H)
    paths = _Paths(state, K) if attention else None
    scores = torch.full((B, K), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live hypothesis per sentence at the start
    seqs = torch.full((B, K, 1), BOS, dtype=torch.long, device=device)  # (A, K, t+1)
    max_len = max_len.to(device)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    t = 0
    while sent.numel() > 0:
        A = sent.numel()
        log_probs, state = model.decode_step(seqs[:, :, -1].reshape(-1), state)
        if paths is not None:
            paths.see(state)
        at_max = (max_len[sent] == t).repeat_interleave(K)
        log_probs = mask_specials(log_probs, at_max)  # (A*K, V)
        V = log_probs.size(-1)
        cand = (scores.unsqueeze(-1) + log_probs.view(A, K, V)).view(A, K * V)
        top_scores, top_idx = cand.topk(min(2 * K, K * V), dim=-1)  # (A, 2K)
        beam, tok = top_idx // V, top_idx % V
        _finish(finished, sent, seqs, top_scores, beam, tok, K, length_penalty, t + 1, paths)
        # The best K candidates that do not end in eos continue.
        rank = torch.arange(top_idx.size(1), device=device) + (tok == EOS) * top_idx.size(1)
        keep = rank.argsort(dim=-1)[:, :K]  # (A, K)
        scores = top_scores.gather(1, keep)
        beam, tok = beam.gather(1, keep), tok.gather(1, keep)
        done = _done(finished, sent, scores, max_len[sent] == t, K, length_penalty, nbest)
        # One index_select: reorder the surviving hypotheses and drop finished sentences
        # (their memory too, but only when some are done).
        live = (~done).nonzero().flatten()
        src_rows = (live * K).unsqueeze(1) + beam[live]  # (A', K) rows of the old grid
        state = state.select(src_rows.flatten(), live if live.numel() < A else None)
        seqs = torch.cat([seqs.view(A * K, -1)[src_rows.flatten()].view(live.numel(), K, t + 1),
                          tok[live].unsqueeze(-1)], dim=-1)
        if paths is not None:
            paths.extend(src_rows)
        scores, sent = scores[live], sent[live]
        t += 1
    best = [sorted(f, key=lambda h: -h.score)[:nbest] for f in finished]
    if paths is not None:
        for hyps, n in zip(best, paths.lengths):
            for h in hyps:
                h.attention = h.attention[:, :n].cpu()
    return best


class _Paths:
    """The attention of each live hypothesis's path so far, (A, K, t, S), reordered with
    the hypotheses; `lengths`: each sentence's real memory positions."""

    def __init__(self, state, K: int):
        self.lengths = memory_lengths(state)
        A, S = state.mask.shape
        self.weights = state.mask.new_zeros((A, K, 0, S), dtype=torch.float)
        self.step = self.weights.new_zeros(A * K, S)  # this step's, (A*K, S)

    def see(self, state) -> None:
        """The weights of the step that made `state`."""
        self.step = step_weights(state)

    def ended(self, a: int, k: int) -> torch.Tensor:
        """(t + 1, S): the path of hypothesis k of sentence a, ended by this step's eos."""
        A, K, _, S = self.weights.shape
        return torch.cat([self.weights[a, k], self.step.view(A, K, S)[a, k].unsqueeze(0)])

    def extend(self, src_rows: torch.Tensor) -> None:
        """src_rows (A', K): the old grid's rows the surviving hypotheses extend."""
        A, K, t, S = self.weights.shape
        rows = src_rows.flatten()
        self.weights = torch.cat([self.weights.view(A * K, t, S)[rows],
                                  self.step[rows].unsqueeze(1)], dim=1).view(-1, K, t + 1, S)


def _finish(finished, sent, seqs, top_scores, beam, tok, K, length_penalty, length,
            paths: Optional[_Paths]) -> None:
    """Move eos candidates that rank in the top K to their sentence's finished list."""
    ends = ((tok[:, :K] == EOS) & (top_scores[:, :K] > float("-inf"))).nonzero().tolist()
    if not ends:
        return
    scores, beams, sents = top_scores.tolist(), beam.tolist(), sent.tolist()
    for a, j in ends:
        k = beams[a][j]
        finished[sents[a]].append(Hypothesis(seqs[a, k, 1:].tolist(),
                                             scores[a][j] / (length ** length_penalty),
                                             None if paths is None else paths.ended(a, k)))


def _done(finished, sent, scores, at_max, K, length_penalty, nbest) -> torch.Tensor:
    """Which active sentences need no more steps.

    Without length normalisation scores only fall as hypotheses grow, so a sentence is
    done once its nbest-th finished score beats every live one: the search is then exact
    with respect to its beam. With normalisation that bound does not hold, and a sentence
    stops with K finished hypotheses (as fairseq does). All stop at the maximum length.
    """
    done = at_max.tolist()
    best_live = scores.max(dim=-1).values.tolist()
    for a, i in enumerate(sent.tolist()):
        f = finished[i]
        if length_penalty == 0.0:
            done[a] = done[a] or (len(f) >= nbest
                                  and sorted(h.score for h in f)[-nbest] >= best_live[a])
        else:
            done[a] = done[a] or len(f) >= K
    return torch.tensor(done, device=scores.device)
