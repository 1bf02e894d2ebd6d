"""seq2seq-sample: sentences drawn from a language model (seq2seq/tasks/language_model/sample.py).

    seq2seq-sample runs/lm_en --n 5 --temperature 0.8 [--top-k 50] [--seed 1]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.cli.common import run as run_cli
from seq2seq.tasks.language_model.sample import Sampler, check_settings


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
        check_settings(args.n, args.max_len, args.temperature, args.top_k)  # before loading
        texts = Sampler.from_run(args.run, device=args.device).sample(
            args.n, max_len=args.max_len, temperature=args.temperature, top_k=args.top_k,
            seed=args.seed)
        for text in texts:
            print(text)
    run_cli("seq2seq-sample", body, args.debug)


if __name__ == "__main__":
    main()
