"""Training-time augmentation of images: each training image (a video's frames alike) changed
at random before the CNN sees it, so that a captioner learns what an image shows rather than
the exact pixels of one rendering (the same emoji drawn by another artist).

    data.augment_shift      moved by up to N pixels, the edge repeated     (arrays.shifted)
    data.augment_jitter     brightness and contrast each x [1-j, 1+j]       ColorJitter
    data.augment_saturation saturation x [1-s, 1+s]                         ColorJitter
    data.augment_hue        hue turned by up to h of the colour circle      ColorJitter
    data.augment_rotate     rotated by up to r degrees                      RandomAffine
    data.augment_scale      zoomed by a factor in [1-s, 1+s]                RandomAffine
    data.augment_blur       Gaussian blur (3 x 3), sigma in [0.1, b]        GaussianBlur
    data.augment_grayscale  shown in grey (three equal channels), with p    RandomGrayscale

The transforms are torchvision's (transforms.v2, the `vision` extra), applied in this order
to uint8 pixels. Rotation and zoom fill what they uncover with the image's top-left pixel:
its background (white for the emoji). The draws are seeded by the batch, as the shift's are,
so a resumed run sees the same images; evaluation and inference see the images as they are.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from seq2seq.tasks.base import Check
from seq2seq.tasks.captioning.backbones import import_torchvision


@dataclass(frozen=True)
class Augmentation:
    """The photometric and geometric changes (0: off); the shift is the arrays' own."""
    jitter: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    rotate: float = 0.0  # degrees
    scale: float = 0.0
    blur: float = 0.0  # the largest sigma, in pixels
    grayscale: float = 0.0  # a probability

    @classmethod
    def of(cls, data) -> "Augmentation":
        """The data node's `augment_<name>` keys."""
        return cls(**{f.name: getattr(data, f"augment_{f.name}") for f in fields(cls)})

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def _transform(self, fill: list[int]):
        """The composed transform for one image whose background is `fill`."""
        import_torchvision("data.augment_*")  # its one import path (a CUDA build here)
        from torchvision.transforms import v2
        steps = []
        if self.jitter or self.saturation or self.hue:
            steps.append(v2.ColorJitter(brightness=self.jitter, contrast=self.jitter,
                                        saturation=self.saturation, hue=self.hue))
        if self.rotate or self.scale:
            steps.append(v2.RandomAffine(degrees=self.rotate, fill=fill, scale=(
                (1 - self.scale, 1 + self.scale) if self.scale else None)))
        if self.blur:
            steps.append(v2.GaussianBlur(3, sigma=(0.1, self.blur)))
        if self.grayscale:
            steps.append(v2.RandomGrayscale(self.grayscale))
        return v2.Compose(steps)

    def __call__(self, images: torch.Tensor, seed: int) -> torch.Tensor:
        """(B, T, C, H, W) uint8 -> the same shape, each image changed by its own draw (all
        of a video's T frames by the same one)."""
        out = torch.empty_like(images)
        with torch.random.fork_rng(devices=[]):  # the run's own random stream is untouched
            torch.manual_seed(seed)
            for b, image in enumerate(images):  # (T, C, H, W): v2 draws once per call
                out[b] = self._transform(image[0, :, 0, 0].tolist())(image)
        return out


def augmentation_checks(data, frozen: bool) -> list[Check]:
    """Each augment_* key in its range; colour changes need colour; none with a frozen
    backbone, whose grids are computed once, from the images as they are."""
    a, colour = Augmentation.of(data), data.image_channels == 3
    one = {f"data.augment_{f.name}": getattr(a, f.name) for f in fields(a)}
    return [
        *((key, value >= 0, "must be >= 0") for key, value in one.items()),
        ("data.augment_jitter", a.jitter < 1, "must be < 1 (a factor of 1 - j can be 0)"),
        ("data.augment_saturation", a.saturation <= 1, "must be <= 1"),
        ("data.augment_hue", a.hue <= 0.5, "must be <= 0.5 (half the colour circle)"),
        ("data.augment_scale", a.scale < 1, "must be < 1"),
        ("data.augment_blur", a.blur == 0 or a.blur >= 0.1, "0 (off) or >= 0.1 pixels"),
        ("data.augment_grayscale", a.grayscale <= 1, "a probability: <= 1"),
        *((key, colour or not one[key], "0 on grey images (data.image_channels=1)")
          for key in ("data.augment_saturation", "data.augment_hue",
                      "data.augment_grayscale")),
        *((key, not (frozen and value), "0 with a frozen backbone: its grids are computed "
           "once, from the images as they are")
          for key, value in {"data.augment_shift": data.augment_shift, **one}.items()),
    ]
