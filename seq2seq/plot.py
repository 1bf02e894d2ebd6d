"""seq2seq-plot: learning curves of one or more runs in one PNG.

    seq2seq-plot runs/demo                                   # writes runs/demo/curves.png
    seq2seq-plot runs/reversed runs/not_reversed --output ablation.png

Three panels against training steps: training loss per token, dev perplexity and dev BLEU,
one line per run, read from each run's `train.log` (the record every run writes). Needs
matplotlib: `pip install seq2seq[plot]`.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from seq2seq.cli import run as run_cli

TRAIN_LINE = re.compile(r" step (\d+) \| loss/token ([0-9.]+) ")
EVAL_LINE = re.compile(r" eval epoch [0-9.]+ step (\d+) \| dev ppl ([0-9.]+|inf|nan)"
                       r"(?: \| dev BLEU = ([0-9.]+))?")


@dataclass
class Curves:
    name: str
    train: list[tuple[int, float]] = field(default_factory=list)  # (step, loss per token)
    ppl: list[tuple[int, float]] = field(default_factory=list)  # (step, dev perplexity)
    bleu: list[tuple[int, float]] = field(default_factory=list)  # (step, dev BLEU)


def read_curves(run_dir: Path) -> Curves:
    """A run's curves from its train.log; a resumed run's repeated steps keep the last."""
    log = run_dir / "train.log"
    if not log.is_file():
        raise FileNotFoundError(f"{log}: no such file (is {run_dir} a run directory?)")
    train: dict[int, float] = {}
    ppl: dict[int, float] = {}
    bleu: dict[int, float] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if m := EVAL_LINE.search(line):
            step = int(m.group(1))
            ppl[step] = float(m.group(2))
            if m.group(3) is not None:
                bleu[step] = float(m.group(3))
        elif m := TRAIN_LINE.search(line):
            train[int(m.group(1))] = float(m.group(2))
    if not train and not ppl:
        raise ValueError(f"{log}: no training or evaluation lines yet")
    return Curves(run_dir.name, sorted(train.items()), sorted(ppl.items()), sorted(bleu.items()))


def plot(curves: list[Curves], out: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        raise ImportError("seq2seq-plot needs matplotlib: pip install 'seq2seq[plot]'") from None
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    panels = [("train", "training loss per token"), ("ppl", "dev perplexity"),
              ("bleu", "dev BLEU")]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, (key, title) in zip(axes, panels):
        for c in curves:
            points = getattr(c, key)
            if points:
                ax.plot(*zip(*points), marker="." if key != "train" else None, label=c.name)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="seq2seq-plot", description=__doc__.split("\n")[0])
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    p.add_argument("--output", type=Path, help="default: RUN_DIR/curves.png of the first run")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)

    def body() -> None:
        out = args.output or args.runs[0] / "curves.png"
        plot([read_curves(r) for r in args.runs], out)
        print(out)
    run_cli("seq2seq-plot", body, args.debug)


if __name__ == "__main__":
    main()
