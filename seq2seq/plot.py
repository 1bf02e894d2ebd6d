"""seq2seq-plot: learning curves of one or more runs in one PNG.

    seq2seq-plot runs/demo                                   # writes runs/demo/curves.png
    seq2seq-plot runs/reversed runs/not_reversed --output ablation.png

Three panels against training steps: training loss per token, dev perplexity and dev BLEU,
one line per run, read from each run's `train.log` (training) and `metrics.jsonl`
(evaluations). Needs matplotlib: `pip install seq2seq[plot]`.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from seq2seq.cli import run as run_cli
from seq2seq.rundir import RunDir

TRAIN_LINE = re.compile(r" step (\d+) \| loss/token ([0-9.]+) ")


@dataclass
class Curves:
    name: str
    train: list[tuple[int, float]] = field(default_factory=list)  # (step, loss per token)
    ppl: list[tuple[int, float]] = field(default_factory=list)  # (step, dev perplexity)
    bleu: list[tuple[int, float]] = field(default_factory=list)  # (step, dev BLEU)


def read_curves(run_dir: Path) -> Curves:
    """A run's curves; a resumed run's repeated steps keep the last value."""
    paths = RunDir(run_dir)
    if not paths.log.is_file():
        raise FileNotFoundError(f"{paths.log}: no such file (is {run_dir} a run directory?)")
    train: dict[int, float] = {}
    for line in paths.log.read_text(encoding="utf-8", errors="replace").splitlines():
        if m := TRAIN_LINE.search(line):
            train[int(m.group(1))] = float(m.group(2))
    ppl: dict[int, float] = {}
    bleu: dict[int, float] = {}
    for record in _records(paths.metrics):
        ppl[record["step"]] = record["dev_ppl"]
        if "dev_bleu" in record:
            bleu[record["step"]] = record["dev_bleu"]
    if not train and not ppl:
        raise ValueError(f"{paths.log}: no training or evaluation lines yet")
    return Curves(paths.root.name, sorted(train.items()), sorted(ppl.items()),
                  sorted(bleu.items()))


def _records(metrics: Path) -> list[dict]:
    """The evaluations in metrics.jsonl; a line cut short by a crash is skipped."""
    if not metrics.is_file():
        return []
    records = []
    for line in metrics.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


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
    drawn = [ax for ax in axes if ax.get_legend_handles_labels()[0]]
    if drawn:  # a run stopped before its first log line has no training curve
        drawn[0].legend()
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
        out = args.output or RunDir(args.runs[0]).plot
        plot([read_curves(r) for r in args.runs], out)
        print(out)
    run_cli("seq2seq-plot", body, args.debug)


if __name__ == "__main__":
    main()
