"""seq2seq-plot: learning curves of one or more runs in one PNG.

    seq2seq-plot runs/demo                                   # writes runs/demo/curves.png
    seq2seq-plot runs/reversed runs/not_reversed --output ablation.png

Three panels against training steps: training loss per token, dev perplexity and dev BLEU,
one line per run, read from each run's `metrics.jsonl`: the records the log lines were
printed from (seq2seq/report.py), never the log's text. Runs written before training
records were kept there have evaluations only: their training panel stays empty. Needs
matplotlib: `pip install seq2seq[plot]`.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from seq2seq.cli import run as run_cli
from seq2seq.rundir import RunDir


@dataclass
class Curves:
    name: str
    train: list[tuple[int, float]] = field(default_factory=list)  # (step, loss per token)
    ppl: list[tuple[int, float]] = field(default_factory=list)  # (step, dev perplexity)
    bleu: list[tuple[int, float]] = field(default_factory=list)  # (step, dev BLEU)


def read_curves(run_dir: Path) -> Curves:
    """A run's curves; a resumed run's repeated steps keep the last value."""
    paths = RunDir(run_dir)
    if not paths.metrics.is_file():
        raise FileNotFoundError(f"{paths.metrics}: no such file "
                                f"(is {run_dir} a run directory?)")
    # training records have train_loss, evaluations dev_ppl (and dev_bleu when scored)
    keys = {"train": "train_loss", "ppl": "dev_ppl", "bleu": "dev_bleu"}
    points: dict[str, dict[int, float]] = {curve: {} for curve in keys}
    for record in _records(paths.metrics):
        for curve, key in keys.items():
            if key in record:
                points[curve][record["step"]] = record[key]
    if not points["train"] and not points["ppl"]:
        raise ValueError(f"{paths.metrics}: no training or evaluation records yet")
    return Curves(paths.root.name, **{c: sorted(p.items()) for c, p in points.items()})


def _records(metrics: Path) -> list[dict]:
    """The records in metrics.jsonl; a line cut short by a crash is skipped."""
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
