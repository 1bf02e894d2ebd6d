"""Handwritten digit strings (captioning, one-to-many): real 8x8 digits -> their digits as text.

    sklearn's load_digits (1,797 images, 0..16) --split once, by class--> train pool | test pool
        train, dev: from the train pool (two seed streams)     test: from the test pool
    an example: 1..8 random digits, each a random image of its class from the pool
        image   the digits left to right on one blank canvas      -> "3 0 7"
        frames  one digit a frame, shifted up to `shift` pixels   -> "3 0 7"   (LRCN "video")

Nothing is downloaded: the digits ship with scikit-learn. No digit image is in both train
(or dev) and test, so test measures reading unseen handwriting. `sources` keeps which image
each digit came from, so that can be checked.

`python recipes/digit-strings/build_data.py OUT_DIR` writes them as Hugging Face imagefolder data (a
metadata.jsonl of file_name and caption beside the files), which task=captioning prepares:
OUT_DIR/images/<split>/ the canvases as grey PNGs, OUT_DIR/frames/<split>/ the frames as .npy.
"""
from __future__ import annotations

import argparse
import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = {"train": 0, "dev": 1, "test": 2}  # the seed stream of each split
POOL_SEED = 2014  # the train/test split of the digit images never depends on `seed`
D = 8  # load_digits' images are D x D


@dataclass
class DigitStrings:
    images: np.ndarray  # (N, H, W) float32 in [0, 1]: the digits on one canvas
    frames: np.ndarray  # (N, max_digits, F, F) float32: digit t in frame t, blank after
    lengths: np.ndarray  # (N,) int64: digits per example (= real frames)
    captions: list[str]  # "3 0 7": one token a digit for either tokenizer
    sources: np.ndarray  # (N, max_digits) int64: load_digits index of each digit, -1 past


@functools.lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray]:
    """load_digits' images scaled to [0, 1], (1797, 8, 8) float32, and their classes (1797,)."""
    from sklearn.datasets import load_digits
    bunch = load_digits()
    return (bunch.images / 16).astype(np.float32), bunch.target.astype(np.int64)


def pools(test_share: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Sorted image indices of the train pool and the test pool: `test_share` of each class."""
    if not 0 < test_share < 1:
        raise ValueError(f"digit_strings: test_share must be in (0, 1), got {test_share}")
    target = digits()[1]
    rng = np.random.default_rng(POOL_SEED)
    test = []
    for c in range(10):
        members = rng.permutation(np.flatnonzero(target == c))
        test.append(members[:round(test_share * len(members))])
    test_idx = np.sort(np.concatenate(test))
    return np.setdiff1d(np.arange(len(target)), test_idx), test_idx


def _check(split: str, n: int, min_digits: int, max_digits: int, pad: int, shift: int) -> None:
    if split not in SPLITS:
        raise ValueError(f"digit_strings: unknown split {split!r} (one of {', '.join(SPLITS)})")
    if n < 1:
        raise ValueError(f"digit_strings: n must be at least 1, got {n}")
    if not 1 <= min_digits <= max_digits:
        raise ValueError(f"digit_strings: need 1 <= min_digits <= max_digits, "
                         f"got {min_digits}..{max_digits}")
    if pad < 0 or shift < 0:
        raise ValueError(f"digit_strings: pad and shift must be >= 0, got {pad} and {shift}")


def _draw_sources(pool: np.ndarray, rng: np.random.Generator, n: int,
                  min_digits: int, max_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Lengths (N,) uniform in [min, max] and source images (N, max_digits), -1 past them."""
    lengths = rng.integers(min_digits, max_digits + 1, size=n)
    by_class = [pool[digits()[1][pool] == c] for c in range(10)]
    flat = np.concatenate(by_class)
    sizes = np.array([len(members) for members in by_class])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    classes = rng.integers(0, 10, size=(n, max_digits))
    within = (rng.random((n, max_digits)) * sizes[classes]).astype(np.int64)
    sources = flat[starts[classes] + within]  # (N, max_digits)
    sources[np.arange(max_digits) >= lengths[:, None]] = -1
    return lengths, sources


def _place(sources: np.ndarray, pad: int) -> np.ndarray:
    """(N, 8 + 2 pad, 8 max + pad (max + 1)): digit t at x = pad + t (8 + pad), y = pad."""
    n, max_digits = sources.shape
    images = np.zeros((n, D + 2 * pad, D * max_digits + pad * (max_digits + 1)), np.float32)
    for t in range(max_digits):
        real = sources[:, t] >= 0
        x = pad + t * (D + pad)
        images[real, pad:pad + D, x:x + D] = digits()[0][sources[real, t]]
    return images


def _frames(sources: np.ndarray, rng: np.random.Generator, shift: int) -> np.ndarray:
    """(N, max_digits, F, F), F = 8 + 2 shift: each digit moved by up to `shift` in y and x."""
    n, max_digits = sources.shape
    frames = np.zeros((n, max_digits, D + 2 * shift, D + 2 * shift), np.float32)
    offsets = rng.integers(0, 2 * shift + 1, size=(2, n, max_digits))  # top-left corner
    rows = offsets[0][..., None] + np.arange(D)  # (N, max_digits, D)
    cols = offsets[1][..., None] + np.arange(D)
    example, step = np.nonzero(sources >= 0)  # the real frames, (R,) each
    frames[example[:, None, None], step[:, None, None], rows[example, step][:, :, None],
           cols[example, step][:, None, :]] = digits()[0][sources[example, step]]
    return frames


def build(split: str, n: int, *, seed: int, min_digits: int = 1, max_digits: int = 8,
          pad: int = 1, shift: int = 1, test_share: float = 0.2) -> DigitStrings:
    """`n` examples of `split`, the same for the same arguments."""
    _check(split, n, min_digits, max_digits, pad, shift)
    train_pool, test_pool = pools(test_share)
    rng = np.random.default_rng([seed, SPLITS[split]])
    pool = test_pool if split == "test" else train_pool
    lengths, sources = _draw_sources(pool, rng, n, min_digits, max_digits)
    target = digits()[1]
    captions = [" ".join(str(target[s]) for s in row[:k]) for row, k in zip(sources, lengths)]
    return DigitStrings(_place(sources, pad), _frames(sources, rng, shift), lengths, captions,
                        sources)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """[0, 1] float -> 0..255 uint8, rounded: what the PNGs and .npy files hold."""
    return np.rint(x * 255).astype(np.uint8)


def write(ds: DigitStrings, out_dir: Path, split: str) -> tuple[Path, Path]:
    """Two Hugging Face imagefolder splits, each a metadata.jsonl of {"file_name", "caption"}:

        out_dir/images/<split>/  <split>-000000.png ...  grey, the canvas as uint8
        out_dir/frames/<split>/  <split>-000000.npy ...  uint8 (T, F, F), the T real frames

    metadata.jsonl is written last (via a temporary name): a split with one is complete.
    """
    from PIL import Image
    folders = out_dir / "images" / split, out_dir / "frames" / split
    names = [f"{split}-{i:06d}" for i in range(len(ds.captions))]
    images, frames = to_uint8(ds.images), to_uint8(ds.frames)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.fromarray(images[i]).save(folders[0] / f"{name}.png", optimize=False)
        np.save(folders[1] / f"{name}.npy", frames[i, :ds.lengths[i]])
    for folder, suffix in zip(folders, (".png", ".npy")):
        lines = [json.dumps({"file_name": name + suffix, "caption": caption}) + "\n"
                 for name, caption in zip(names, ds.captions)]
        part = folder / "metadata.jsonl.part"
        part.write_text("".join(lines), encoding="utf-8")
        part.replace(folder / "metadata.jsonl")
    return folders


@dataclass
class Written:
    """What `write` wrote, read back: the files, not the arrays they came from."""
    images: list[np.ndarray]  # (H, W) uint8 each
    frames: list[np.ndarray]  # (T, F, F) uint8 each
    captions: list[str]


def read(out_dir: Path, split: str) -> Written:
    """One split's images, frames and captions, checked: both folders there, one caption per
    file and the same captions in both."""
    from PIL import Image
    kinds = {}
    for kind in ("images", "frames"):
        metadata = out_dir / kind / split / "metadata.jsonl"
        if not metadata.is_file():
            raise FileNotFoundError(f"{metadata}: no such file (write it with "
                                    f"python recipes/digit-strings/build_data.py {out_dir})")
        rows = [json.loads(line) for line in metadata.read_text(encoding="utf-8").splitlines()]
        kinds[kind] = [metadata.parent / row["file_name"] for row in rows], \
            [row["caption"] for row in rows]
    if kinds["images"][1] != kinds["frames"][1]:
        raise ValueError(f"{out_dir / 'images' / split} and {out_dir / 'frames' / split}: "
                         f"their metadata.jsonl captions differ")
    images = [np.asarray(Image.open(path)) for path in kinds["images"][0]]
    return Written(images, [np.load(path) for path in kinds["frames"][0]], kinds["images"][1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write handwritten digit strings built from "
                                     "load_digits as imagefolder data: OUT_DIR/images/<split>/ "
                                     "(PNGs) and OUT_DIR/frames/<split>/ (.npy, a digit a "
                                     "frame), each with a metadata.jsonl of captions.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    for split, n in (("train", 20000), ("dev", 500), ("test", 1000)):
        parser.add_argument(f"--{split}", type=int, default=n, help=f"examples (default {n})")
    parser.add_argument("--min-digits", type=int, default=1)
    parser.add_argument("--max-digits", type=int, default=8)
    args = parser.parse_args(argv)
    for split in SPLITS:
        ds = build(split, getattr(args, split), seed=args.seed, min_digits=args.min_digits,
                   max_digits=args.max_digits)
        images, frames = write(ds, args.out_dir, split)
        print(f"{split}: {len(ds.captions)} examples, {ds.lengths.mean():.2f} digits on average"
              f" -> {images}/, {frames}/")


if __name__ == "__main__":
    main()
