"""seq2seq-plot: learning curves of one or more runs in one PNG.

    seq2seq-plot runs/demo                                   # writes runs/demo/curves.png
    seq2seq-plot runs/reversed runs/not_reversed --output ablation.png

Panels against training steps, one line per run: training loss per token, then one panel
per dev metric the runs have (a translation run: dev perplexity and dev BLEU; a classifier:
dev accuracy, macro-F1 and loss), read from each run's `metrics.jsonl`: the records the log
lines were printed from (seq2seq/training/report.py), never the log's text. Runs written before
training records were kept there have evaluations only: their training panel stays empty.
Needs matplotlib: `pip install seq2seq[plot]`.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from seq2seq.cli.common import run as run_cli
from seq2seq.training.rundir import RunDir


TRAIN = "train_loss"
# A panel's title by metric key; another dev_<name> is titled "dev <name>".
TITLES = {TRAIN: "training loss (per token; a classifier's per text)",
          "dev_ppl": "dev perplexity", "dev_bleu": "dev BLEU", "dev_accuracy": "dev accuracy (%)",
          "dev_macro_f1": "dev macro-F1", "dev_loss": "dev loss per sentence",
          "dev_cider_d": "dev CIDEr-D", "dev_bleu4": "dev BLEU-4",
          "dev_exact": "dev exact match (%)", "dev_cer": "dev character error rate (%)"}


@dataclass
class Curves:
    name: str
    # metric key ("train_loss", "dev_ppl", "dev_accuracy", ...) -> (step, value), by step
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def __getitem__(self, key: str) -> list[tuple[int, float]]:
        return self.metrics.get(key, [])


def is_metric(key: str, value: object) -> bool:
    """Training loss and every number under a dev_ key; a `*_signature` says how a score
    was computed, and train_ppl, lr and the rest of a training record are not drawn."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and (key == TRAIN or key.startswith("dev_") and not key.endswith("_signature"))


def read_curves(run_dir: Path) -> Curves:
    """A run's curves; a resumed run's repeated steps keep the last value."""
    paths = RunDir(run_dir)
    if not paths.metrics.is_file():
        raise FileNotFoundError(f"{paths.metrics}: no such file "
                                f"(is {run_dir} a run directory?)")
    points: dict[str, dict[int, float]] = {}
    for record in _records(paths.metrics):
        for key, value in record.items():
            if is_metric(key, value) and "step" in record:
                points.setdefault(key, {})[record["step"]] = value
    if not points:
        raise ValueError(f"{paths.metrics}: no training or evaluation records yet")
    return Curves(paths.root.name, {key: sorted(p.items()) for key, p in points.items()})


def panel_keys(curves: list[Curves]) -> list[str]:
    """What to draw: training loss, then every dev metric some run has (those of TITLES in
    its order, then the others by name)."""
    found = {key for c in curves for key in c.metrics if key != TRAIN}
    known = [key for key in TITLES if key in found]
    return [TRAIN, *known, *sorted(found - set(known))]


def title(key: str) -> str:
    return TITLES.get(key, "dev " + key.removeprefix("dev_"))


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

    keys = panel_keys(curves)
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 4.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for i, c in enumerate(curves):
            if c[key]:  # a run's colour is its own in every panel, whichever runs it lacks
                ax.plot(*zip(*c[key]), marker="." if key != TRAIN else None, label=c.name,
                        color=f"C{i % 10}")
        ax.set_title(title(key))
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    drawn = [ax for ax in axes[0] if ax.get_legend_handles_labels()[0]]
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
