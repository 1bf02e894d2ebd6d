"""seq2seq-sample: sentences drawn from a language model, one token at a time.

    seq2seq-train experiment=lm_en trainer.run_dir=runs/lm_en
    seq2seq-sample runs/lm_en --n 5 --temperature 0.8 [--top-k 50] [--seed 1]

Each step draws the next token from softmax(logits / T), optionally among the k most
probable only; T -> 0 becomes greedy decoding, T = 1 the model's own distribution.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from seq2seq.cli import run as run_cli
from seq2seq.search import left_to_right
from seq2seq.sources import Source
from seq2seq.tokenizer import UNK
from seq2seq.hardware import pick_device
from seq2seq.translator import load_run


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
    ids, _ = left_to_right(model, Source.empty(n, device),  # a language model reads none
                           torch.full((n,), max_len, device=device), choose)
    return ids


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="seq2seq-sample", description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path, help="run directory (or checkpoint) of a language model")
    p.add_argument("--n", type=int, default=5, help="how many sentences")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0, help="draw among the k best (0: all)")
    p.add_argument("--max-len", type=int, default=100, help="pieces per sentence at most")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)

    def body() -> None:
        if args.n < 1 or args.temperature < 0 or args.top_k < 0 or args.max_len < 1:
            raise ValueError("need --n >= 1, --temperature >= 0, --top-k >= 0, --max-len >= 1")
        device = pick_device(args.device)
        model, tok, _ = load_run(args.run, device, task="language_model")
        gen = torch.Generator(device=device).manual_seed(args.seed)
        ids = sample(model, args.n, args.max_len, temperature=args.temperature,
                     top_k=args.top_k, generator=gen)
        for text in tok.decode_target(ids):
            print(text)
    run_cli("seq2seq-sample", body, args.debug)


if __name__ == "__main__":
    main()
