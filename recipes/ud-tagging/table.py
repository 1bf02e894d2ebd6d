"""The recipe's table: each tagger's test scores (from its test.score) and training (from
its metrics.jsonl), beside the baselines (baselines-*.json), as Markdown.

    python recipes/ud-tagging/table.py runs upos upos-nochar xpos ner ner-crf
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SCHEME = "token accuracy %; entity F1 % (seqeval IOB2 strict, micro)"


def run_row(runs: Path, name: str) -> str:
    score = (runs / name / "translations" / "test.score").read_text()
    accuracy = re.search(r"token accuracy = ([0-9.]+)", score)[1]
    f1 = re.search(r"F1 = ([0-9.]+)", score)
    metrics = (runs / name / "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in metrics]
    last = records[-1]
    dev = [r for r in records if "dev_accuracy" in r]
    best = max((r.get("dev_entity_f1", r["dev_accuracy"]) for r in dev), default=float("nan"))
    return (f"| {name} | {accuracy} | {f1[1] if f1 else ''} | {best:.2f} | "
            f"{last['epoch']:.1f} | {last['elapsed'] / 60:.1f} |")


def baseline_rows(runs: Path) -> list[str]:
    rows = []
    for path in sorted(runs.glob("baselines-*.json")):
        report = json.loads(path.read_text())
        kind = path.stem.removeprefix("baselines-")
        test = next(k for k in report["scores"] if "test" in Path(k).name)
        for name, s in report["scores"][test].items():
            f1 = f"{s['entity_f1']:.2f}" if "entity_f1" in s else ""
            rows.append(f"| {kind} {name} (baseline) | {s['accuracy']:.2f} | {f1} | | | "
                        f"{report['fit_seconds'] / 60:.1f} (both) |")
    return rows


def main(argv: list[str]) -> None:
    runs, names = Path(argv[0]), argv[1:]
    print(f"Test scores ({SCHEME}); best dev: the metric best.pt was kept on.\n")
    print("| run | test accuracy | test entity F1 | best dev | epochs | minutes |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in names:
        print(run_row(runs, name))
    for row in baseline_rows(runs):
        print(row)


if __name__ == "__main__":
    main(sys.argv[1:])
