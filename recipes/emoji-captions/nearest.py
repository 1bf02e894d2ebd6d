"""Nearest-neighbour captioning baseline, the floor an image captioning model must clear:
each test image gets the first caption of the training image nearest in pixel space.

    python recipes/emoji-captions/nearest.py data/emoji-captions/images/train \\
        data/emoji-captions/images/test --refs refs.jsonl > hyp.txt

TRAIN_DIR and TEST_DIR are imagefolder split folders (metadata.jsonl with "file_name" and
"captions", the images beside it), as build_data.py export writes them. Distance: L2 over
all pixels (RGB, as float64, so squared distances of uint8 images are exact); on a tie the
earlier training image wins. Output: one caption a line, in TEST_DIR's metadata.jsonl order.
--refs writes the test references, one JSON list of captions a line, same order.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

CHUNK = 256  # test images per distance block: (CHUNK, N_train) float64


def read_split(folder: Path) -> tuple[np.ndarray, list[list[str]]]:
    """(images as (N, H*W*3) float64, their captions), in metadata.jsonl order."""
    lines = (folder / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    pixels = [np.asarray(Image.open(folder / r["file_name"]).convert("RGB")).reshape(-1)
              for r in records]
    images = np.stack(pixels).astype(np.float64) if pixels else np.zeros((0, 0))
    return images, [r["captions"] for r in records]


def nearest_indices(train: np.ndarray, test: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """For each test row, the index of the nearest train row (squared L2; first on a tie).
    train (N, D), test (M, D) -> (M,) int."""
    train_sq = (train * train).sum(axis=1)  # (N,)
    found = []
    for start in range(0, len(test), chunk):
        block = test[start:start + chunk]  # (C, D)
        dist = train_sq[None, :] - 2.0 * block @ train.T + (block * block).sum(axis=1)[:, None]
        found.append(dist.argmin(axis=1))  # argmin keeps the first of equal distances
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def nearest_captions(train_dir: Path, test_dir: Path) -> tuple[list[str], list[list[str]]]:
    """(the hypothesis for each test image, the test references)."""
    train, train_captions = read_split(train_dir)
    test, test_captions = read_split(test_dir)
    picks = nearest_indices(train, test)
    return [train_captions[i][0] for i in picks], test_captions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train_dir", type=Path)
    parser.add_argument("test_dir", type=Path)
    parser.add_argument("--refs", type=Path, help="write the test references here (JSON lines)")
    args = parser.parse_args(argv)
    hyps, refs = nearest_captions(args.train_dir, args.test_dir)
    sys.stdout.reconfigure(encoding="utf-8")  # flag names such as "curaçao flag"
    sys.stdout.write("".join(h + "\n" for h in hyps))
    if args.refs:
        args.refs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in refs),
                             encoding="utf-8")


if __name__ == "__main__":
    main()
