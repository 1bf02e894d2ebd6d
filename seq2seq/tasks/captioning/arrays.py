"""Captioned images on disk as flat arrays, memory-mapped like the token arrays
(seq2seq/data/tokens.py).

One split of a prepared caption corpus:

    train/  images.u8     every image, resized: uint8 (images, T, C, H, W), T the split's
                          longest video (an image is one frame; shorter videos padded)
            frames.lens   real frames of each image (int32)
            image.ids     the image of each (image, caption) pair (int32)
            tgt.ids tgt.lens tgt.offsets   the captions' ids, as a translation's targets
            meta.json     counts, the image array's shape, the caption dtype

A frozen pretrained backbone's grids are cached beside the images (feature_cache.py) and
read in their place. Training reads each (image, caption) pair; evaluation captions each
image once and scores it against all its references. Batches group pairs of one frame
count (images: all), drawn at random (see `CaptionArrays.batches`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import pyarrow as pa
import torch

from seq2seq.data.corpus import Batch, make_batches
from seq2seq.data.sources import Source
from seq2seq.data.tokens import MappedSide, SideWriter, mapped_array, read_meta, teacher_forcing
from seq2seq.tasks.captioning.augment import Augmentation
from seq2seq.tasks.captioning.feature_cache import FrozenBackbone, cached_grids


def write_captioned(directory: Path, images: Iterable[np.ndarray], shape: tuple[int, ...],
                    captions: Iterable[list[list[int]]], dtype: np.dtype) -> int:
    """Writes one split: `images` each (T_i, C, H, W) uint8 with T_i <= shape[0], and, per
    image, the ids of its captions; returns the pair count."""
    directory.mkdir(parents=True, exist_ok=True)
    writer = SideWriter(directory, "tgt", dtype)
    count, pairs = 0, 0
    with open(directory / "images.u8", "wb") as pixels, \
            open(directory / "frames.lens", "wb") as lens, \
            open(directory / "image.ids", "wb") as owners:
        for image, ids in zip(images, captions):
            padded = np.zeros(shape, np.uint8)  # (T, C, H, W)
            padded[: len(image)] = image
            padded.tofile(pixels)
            np.array([len(image)], np.int32).tofile(lens)
            np.full(len(ids), count, np.int32).tofile(owners)
            writer.append(pa.array(ids, pa.list_(pa.int32())))
            count, pairs = count + 1, pairs + len(ids)
    writer.close()
    meta = {"pairs": pairs, "images": count, "shape": list(shape), "tgt_dtype": dtype.name,
            "captioned": True}
    (directory / "meta.json").write_text(json.dumps(meta) + "\n")
    return pairs


class CaptionArrays:
    """A prepared split of (image, caption) pairs, memory-mapped."""

    def __init__(self, directory: Path, frozen: Optional[FrozenBackbone] = None,
                 shift: int = 0, augmentation: Optional[Augmentation] = None):
        """`frozen`: a frozen backbone whose cached grids the sources hold instead of pixels.
        `shift`: training batches move each image by up to this many pixels (`shifted`);
        `augmentation`: and then change it at random (augment.py)."""
        directory = Path(directory)
        self.shift, self.augmentation = shift, augmentation
        meta = read_meta(directory)
        if not meta.get("captioned"):
            raise ValueError(f"{directory}: a split of text, not of captioned images")
        self.pairs, self.n_images, self.shape = meta["pairs"], meta["images"], meta["shape"]
        flat = mapped_array(directory / "images.u8", np.uint8,
                            self.n_images * int(np.prod(self.shape)))
        self.images = flat.reshape(self.n_images, *self.shape)  # (N, T, C, H, W)
        self.frames = mapped_array(directory / "frames.lens", np.int32, self.n_images)
        self.owner = mapped_array(directory / "image.ids", np.int32, self.pairs)
        self.tgt = MappedSide(directory, "tgt", meta["tgt_dtype"], self.pairs)
        self.grids = (None if frozen is None else
                      cached_grids(directory, self.images, self.frames, frozen))

    def __len__(self) -> int:
        return self.pairs

    def batches(self, *, max_tokens: int, max_sentences: int, seed: int,
                epoch: int) -> list[np.ndarray]:
        """Pairs of one frame count (images: all) in random batches, NOT grouped by caption
        length as translation's are: a batch of one-digit strings has other pixel
        statistics than one of eight, and the CNN's BatchNorm, trained on such batches,
        then mismatches the mixed batches of evaluation (digit strings: train perplexity
        1.5 against dev 4.5). Captions are short: the padding this costs is small."""
        return make_batches(self.frames[self.owner], np.zeros_like(self.tgt.lens),
                            max_tokens=max_tokens, max_sentences=max_sentences, seed=seed,
                            epoch=epoch)

    def source(self, rows: np.ndarray) -> Source:
        """The images `rows` as one source: (B, T, C, H, W) uint8, T their longest video;
        with a frozen backbone's cache, their grids (B, T, D, h, w) instead."""
        rows = np.asarray(rows)
        lens = self.frames[rows].astype(np.int64)
        T = int(lens.max())
        if self.grids is not None:
            values = torch.from_numpy(self.grids[rows, :T].astype(np.float32))
        else:
            values = torch.from_numpy(np.ascontiguousarray(self.images[rows, :T]))
        return Source(values, torch.from_numpy(lens))

    def collate(self, index: np.ndarray) -> Batch:
        """The pairs `index`: their images, and their captions with bos in and eos out."""
        index = np.asarray(index)
        src = self.source(self.owner[index])
        if not (self.shift or self.augmentation):  # evaluation, or no augmentation asked
            return Batch(src, *teacher_forcing(self.tgt, index))
        # seeded by the batch itself: the same changes however the run was resumed
        rng = np.random.default_rng(index[:16].astype(np.int64).tolist())
        if self.shift:
            src = src._replace(values=shifted(src.values, self.shift, rng))
        if self.augmentation:
            seed = int(rng.integers(2 ** 31))  # drawn after the shifts: they stay as they were
            src = src._replace(values=self.augmentation(src.values, seed))
        return Batch(src, *teacher_forcing(self.tgt, index))


def shifted(images: torch.Tensor, shift: int, rng: np.random.Generator) -> torch.Tensor:
    """Each image (all of a video's frames alike) of (B, T, C, H, W) moved by up to `shift`
    pixels in each direction, its edge pixels repeated into the space it leaves: the
    augmentation of torchvision's RandomCrop(padding, padding_mode="edge")."""
    B, T, C, H, W = images.shape
    padded = torch.nn.functional.pad(images.flatten(0, 1).float(), (shift,) * 4,
                                     mode="replicate").view(B, T, C, H + 2 * shift, -1)
    out = torch.empty_like(images)
    for b, (dy, dx) in enumerate(rng.integers(0, 2 * shift + 1, size=(B, 2)).tolist()):
        out[b] = padded[b, :, :, dy: dy + H, dx: dx + W].to(images.dtype)
    return out
