"""seq2seq-export: a trained run as a directory to hand to someone else (or publish on the
Hugging Face hub as it is), read by seq2seq.load and every command like the run itself.

    seq2seq-export runs/demo exports/demo                  # one run
    seq2seq-export runs/a runs/b runs/c exports/ensemble   # an ensemble (members/1, 2, 3)
    seq2seq-export runs/a runs/b exports/mean --average    # one model: the mean weights
    seq2seq-translate exports/demo --input src.txt         # as with runs/demo
    huggingface-cli upload OWNER/demo exports/demo .       # then seq2seq.load("hf://OWNER/demo")

The weights are safetensors (no optimizer state, no pickle: loading one never runs code),
beside the config inference needs (the paths of the training machine blanked), the
tokenizer models, the labels, and README.md, a model card written from what the run
measured (seq2seq/export/card.py). OUT must not exist; it appears only when complete and
loaded back as seq2seq.load loads it (an ensemble whose members do not fit is refused).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seq2seq.cli.common import run as run_cli


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seq2seq-export", description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="run directories, checkpoint files, exports or hf://owner/name")
    p.add_argument("out", type=Path, metavar="OUT", help="the export's directory (new)")
    p.add_argument("--average", action="store_true",
                   help="several runs of one shape as one model, the mean of their weights")
    p.add_argument("--license", dest="license_id",
                   help="the card's licence (default: the bundled data's, else 'other')")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)

    def body() -> None:
        import seq2seq
        from seq2seq.export.write import export
        out = export(args.runs, args.out, average=args.average, license_id=args.license_id,
                     check=lambda folder: seq2seq.load(folder, device="cpu"))
        files = [p for p in out.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        weights = [p for p in files if p.name == "model.safetensors"]
        print(f"{out}: {len(weights)} model(s), {len(files)} files, {size / 2**20:.1f} MiB")
    run_cli("seq2seq-export", body, args.debug)


if __name__ == "__main__":
    main()
