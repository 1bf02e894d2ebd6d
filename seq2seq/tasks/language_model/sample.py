"""Sentences drawn from a language model, one token at a time: `Sampler`, the Python API
behind seq2seq-sample (seq2seq/tasks/language_model/cli.py).

    seq2seq-train experiment=lm_en trainer.run_dir=runs/lm_en
    seq2seq-sample runs/lm_en --n 5 --temperature 0.8 [--top-k 50] [--seed 1]
    Sampler.from_run("runs/lm_en").sample(5, temperature=0.8)     # or seq2seq.load(...)

Each step draws the next token from softmax(logits / T), optionally among the k most
probable only; T -> 0 becomes greedy decoding, T = 1 the model's own distribution.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from seq2seq.data.sources import Source
from seq2seq.data.tokenizer import UNK, Tokenizer
from seq2seq.decoding.search import left_to_right
from seq2seq.export.locate import locate
from seq2seq.tasks.translation.translator import load_run
from seq2seq.training.hardware import pick_device


def next_tokens(log_probs: torch.Tensor, temperature: float, top_k: int,
                generator: torch.Generator | None) -> torch.Tensor:
    """(B, V) log-probabilities -> (B,) drawn tokens."""
    if temperature == 0:
        return log_probs.argmax(-1)
    scores = log_probs / temperature
    if 0 < top_k < scores.size(-1):
        kth = scores.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        scores = scores.masked_fill(scores < kth, float("-inf"))
    return torch.multinomial(scores.softmax(-1), 1, generator=generator).squeeze(1)


def sample(model, n: int, max_len: int, *, temperature: float = 1.0, top_k: int = 0,
           generator: torch.Generator | None = None) -> list[list[int]]:
    """`n` token sequences (without bos/eos), each ending at eos or after `max_len`."""
    device = next(model.parameters()).device

    def choose(log_probs: torch.Tensor) -> torch.Tensor:
        log_probs[:, UNK] = float("-inf")  # sampled text holds words, never <unk>
        return next_tokens(log_probs, temperature, top_k, generator)
    ids, _, _ = left_to_right(model, Source.empty(n, device),  # a language model reads none
                           torch.full((n,), max_len, device=device), choose)
    return ids


def check_settings(n: int, max_len: int, temperature: float, top_k: int) -> None:
    if n < 1 or temperature < 0 or top_k < 0 or max_len < 1:
        raise ValueError("need --n >= 1, --temperature >= 0, --top-k >= 0, --max-len >= 1")


class Sampler:
    """A language model run that writes sentences."""

    def __init__(self, model: nn.Module, tokenizer: Tokenizer, device: torch.device):
        self.model, self.tokenizer, self.device = model.eval(), tokenizer, device

    @classmethod
    def from_run(cls, *runs: str | Path, device: str = "auto") -> "Sampler":
        """From a language model's run directory or checkpoint (one: samples average no
        ensemble)."""
        runs = locate(runs)  # hf://owner/name, an ensemble export's members
        if len(runs) != 1:
            raise ValueError(f"Sampler.from_run takes one language model run, not {len(runs)}")
        dev = pick_device(device)
        model, tok, _ = load_run(Path(runs[0]), dev, command="seq2seq-sample")
        return cls(model, tok, dev)

    def sample(self, n: int = 5, *, max_len: int = 100, temperature: float = 1.0,
               top_k: int = 0, seed: int = 1) -> list[str]:
        """`n` sentences of at most `max_len` pieces, drawn with a generator seeded `seed`."""
        check_settings(n, max_len, temperature, top_k)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        ids = sample(self.model, n, max_len, temperature=temperature, top_k=top_k,
                     generator=gen)
        return self.tokenizer.decode_target(ids)
