"""What `make styles` measured, for people (issue 30): the table of every held-out style x
variant run so far, and a contact sheet of the same emoji in every style, each captioned
by the run that never saw that style.

    python recipes/emoji-captions/styles_report.py table runs/styles > table.md
    python recipes/emoji-captions/styles_report.py sheet runs/styles --variant none \\
        --output recipes/emoji-captions/styles.png

DIR holds the recipe's runs: DIR/<held-out>-<variant>/ (translations/test.json, the
held-out style's scores, beam 5; in-style.json, the in-style test emoji's) and
DIR/nearest-<held-out>/translations/{test,in-style}.json, the nearest training image in
pixels over the same training styles. CIDEr-D on coco-caption's scale; exact: % of captions
equal to one of the references.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from seq2seq.tasks.captioning.contact_sheet import draw_sheet

STYLES = ("noto", "openmoji", "fluent", "blob")  # the Makefile's order
VARIANTS = ("none", "jitter", "saturation", "hue", "rotate", "scale", "blur", "grayscale",
            "showtell")
HEADER = ("| held out | variant | held out: CIDEr-D (exact %) | nearest | margin "
          "| in style | in style: CIDEr-D (exact %) | nearest | epochs | minutes |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def scores(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def cell(s: dict | None) -> str:
    return "-" if s is None else f"{s['cider_d']:.3f} ({s['exact']:.1f})"


def variant(run: Path) -> str:
    """What the run did, from its saved config: Show and Tell or attention, a CNN wider than
    the recipe's 32, the data.augment_* that are on."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    model = config["model"]
    what = ["attention" if model["decoder"]["attention"] != "none" else "Show and Tell"]
    if model["encoder"]["cnn_width"] != 32:
        what.append(f"CNN width {model['encoder']['cnn_width']}")
    what += [f"{k.removeprefix('augment_')} {v:g}" for k, v in config["data"].items()
             if k.startswith("augment_") and v]
    return ", ".join(what)


def trained(run: Path) -> tuple[float, float]:
    """(epochs, minutes) of the run's last logged step."""
    last = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        last = record if "train_loss" in record else last
    return last.get("epoch", 0.0), last.get("elapsed", 0.0) / 60


def order(run: Path) -> tuple[int, int, str]:
    held, aug = run.name.split("-", 1)
    return (STYLES.index(held) if held in STYLES else len(STYLES),
            VARIANTS.index(aug) if aug in VARIANTS else len(VARIANTS), run.name)


def table_row(run: Path) -> str:
    held = run.name.split("-", 1)[0]
    nearest = run.parent / f"nearest-{held}" / "translations"
    out, near = scores(run / "translations" / "test.json"), scores(nearest / "test.json")
    margin = "-" if out is None or near is None else f"{out['cider_d'] - near['cider_d']:+.3f}"
    refs = run / "translations" / "in-style.src"
    in_style = (Path(refs.read_text().split("\n", 1)[0]).parent.name
                if refs.is_file() and refs.stat().st_size else "-")
    n = sum(1 for _ in (run / "translations" / "test.refs.jsonl").open()) if out else 0
    epochs, minutes = trained(run)
    return (f"| {held} ({n}) | {variant(run)} | {cell(out)} | {cell(near)} | {margin} "
            f"| {in_style} | {cell(scores(run / 'translations' / 'in-style.json'))} "
            f"| {cell(scores(nearest / 'in-style.json'))} | {epochs:.1f} | {minutes:.1f} |")


def table(runs_dir: Path) -> str:
    runs = sorted((d for d in runs_dir.iterdir() if d.is_dir() and "-" in d.name
                   and not d.name.startswith("nearest-") and (d / "config.yaml").is_file()),
                  key=order)
    return "\n".join([HEADER] + [table_row(run) for run in runs]) + "\n"


def captioned(run: Path) -> dict[str, tuple[Path, str, list[str]]]:
    """A run's held-out test emoji: file name -> (image, its caption, references)."""
    t = run / "translations"
    paths = t.joinpath("test.src").read_text(encoding="utf-8").splitlines()
    hyps = t.joinpath("test.hyp").read_text(encoding="utf-8").splitlines()
    refs = [json.loads(line) for line in t.joinpath("test.refs.jsonl").read_text().splitlines()]
    return {Path(p).name: (Path(p), h, r) for p, h, r in zip(paths, hyps, refs)}


def sheet(runs_dir: Path, variant: str, count: int, output: Path) -> int:
    """`count` test emoji that every held-out run captioned, spread over them, a row each, a
    style a column; returns how many rows were drawn."""
    by_style = {s: captioned(runs_dir / f"{s}-{variant}") for s in STYLES
                if (runs_dir / f"{s}-{variant}" / "translations" / "test.hyp").is_file()}
    if not by_style:
        raise SystemExit(f"{runs_dir}: no <style>-{variant} run has captioned its test images")
    first = next(iter(by_style.values()))
    shared = [name for name in first if all(name in c for c in by_style.values())]
    shared = shared[::max(1, len(shared) // count)][:count]  # spread: not six of one kind
    images, captions, refs = [], [], []
    for name in shared:
        for style, caps in by_style.items():
            path, hyp, ref = caps[name]
            images.append(np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)[None])
            captions.append(f"[{style}, unseen] {hyp}")
            refs.append(ref)
    draw_sheet(output, images, captions, refs, columns=len(by_style))
    return len(shared)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    table_cmd = commands.add_parser("table", help="markdown: every cell run so far")
    table_cmd.add_argument("runs_dir", type=Path)
    sheet_cmd = commands.add_parser("sheet", help="one emoji a row, a style a column")
    sheet_cmd.add_argument("runs_dir", type=Path)
    sheet_cmd.add_argument("--variant", default="none")
    sheet_cmd.add_argument("--count", type=int, default=6)
    sheet_cmd.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "table":
        print(table(args.runs_dir), end="")
    else:
        rows = sheet(args.runs_dir, args.variant, args.count, args.output)
        print(f"{args.output}: {rows} emoji x {len(STYLES)} styles at most")


if __name__ == "__main__":
    main()
