"""Backbones: the CNN an image encoder runs, uint8 images in, a grid of features out.

    images (B, C, H, W) uint8, C = 1 grey | 3 RGB  --normalise, CNN-->  grid (B, D, h, w)

    SmallCNN           the default, trained from scratch: blocks of conv-conv-pool
    resnet18|resnet50  torchvision's, cut before avgpool and fc (D = 512 | 2048, h = H/32);
                       random, a local state dict, or torchvision's pretrained weights

A backbone normalises its own input, so the data saved by prepare is only "resized to
H x W, uint8", whichever backbone trains on it. Every backbone has `channels` (D) and
`grid_size(height, width) -> (h, w)`. torchvision is imported only when a resnet is built.
"""
from __future__ import annotations

import math
import sys
import types
from pathlib import Path
from typing import Optional
from urllib.error import URLError

import torch
from torch import nn

BACKBONES = ("cnn", "resnet18", "resnet50")  # model.encoder.backbone
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _check_images(images: torch.Tensor, in_channels: int, who: str) -> None:
    """One line when the input is not what the saved data transform writes."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.size(1) != in_channels:
        raise TypeError(f"{who}: expects uint8 images (B, {in_channels}, H, W), got "
                        f"{images.dtype} {tuple(images.shape)} (it normalises them itself)")


def _halve(n: int, times: int) -> int:
    """`n` after `times` stride-2 steps that keep a partial last window: ceil(n / 2^times)."""
    for _ in range(times):
        n = math.ceil(n / 2)
    return n


class SmallCNN(nn.Module):
    """The default: trained from scratch. `blocks` blocks of [conv3x3-BatchNorm-ReLU] x 2
    then MaxPool2d(2, ceil_mode=True); widths width, 2 width, 4 width...; input normalised
    as x / 127.5 - 1. Each block halves the grid (rounding up).

    BatchNorm needs batches that look like the data: caption batches are drawn at random,
    not by caption length (caption_arrays.py). GroupNorm, which needs no such care, learnt
    far slower here (digit strings: no progress in 400 steps where BatchNorm's loss halved)."""

    def __init__(self, in_channels: int, width: int = 32, blocks: int = 3):
        super().__init__()
        if in_channels not in (1, 3) or width < 1 or blocks < 1:
            raise ValueError(f"SmallCNN: need in_channels 1 or 3, width >= 1 and blocks >= 1, "
                             f"got {in_channels}, {width} and {blocks}")
        layers: list[nn.Module] = []
        c = in_channels
        for b in range(blocks):
            out = width * 2 ** b
            for _ in range(2):  # no conv bias: BatchNorm's shift replaces it
                layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                           nn.ReLU(inplace=True)]
                c = out
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        self.body = nn.Sequential(*layers)
        self.in_channels, self.blocks, self.channels = in_channels, blocks, c

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) -> float in [-1, 1]."""
        _check_images(images, self.in_channels, "SmallCNN")
        return images.float() / 127.5 - 1

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(self.normalise(images))  # (B, D, h, w)

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        return _halve(height, self.blocks), _halve(width, self.blocks)


class ResNetBackbone(nn.Module):
    """A torchvision resnet up to its last stage: conv1 (stride 2), maxpool (2), three
    stride-2 stages: the grid is the input / 32, rounded up. ImageNet normalisation; a grey
    input is repeated to 3 channels. `frozen`: no gradients, and eval mode for good (the
    pretrained BatchNorm statistics stay as they are, whatever .train() says)."""

    def __init__(self, resnet: nn.Module, in_channels: int, frozen: bool):
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"resnet backbone: in_channels must be 1 or 3, got {in_channels}")
        self.body = nn.Sequential(*list(resnet.children())[:-2])  # less avgpool and fc
        self.in_channels, self.channels, self.frozen = in_channels, resnet.fc.in_features, frozen
        # not in the state dict: constants, the same for every checkpoint
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)
        if frozen:
            self.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True) -> "ResNetBackbone":
        return super().train(mode and not self.frozen)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 1|3, H, W) -> ImageNet-normalised float (B, 3, H, W)."""
        _check_images(images, self.in_channels, "resnet backbone")
        x = images.float() / 255
        if self.in_channels == 1:
            x = x.expand(-1, 3, -1, -1)
        return (x - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(self.normalise(images))  # (B, D, h, w)

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        return _halve(height, 5), _halve(width, 5)


def import_torchvision(what: str = "model.encoder.backbone=resnet18") -> types.ModuleType:
    """torchvision, imported now (never at import time of this module), or one line saying
    that `what` needs it and how to install it."""
    try:
        import torchvision
    except ModuleNotFoundError as exc:
        if exc.name != "torchvision":
            raise
        raise ImportError(f"{what} needs torchvision: "
                          f"pip install 'seq2seq[vision]'") from None
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
        # A torchvision built for another torch variant (a CUDA wheel beside a CPU torch):
        # its compiled detection ops (nms, roi_align) do not load, and registering their
        # meta kernels fails. The classification models use none of them, so skip that
        # module and import the rest afresh.
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        sys.modules["torchvision._meta_registrations"] = types.ModuleType(
            "torchvision._meta_registrations")
        import torchvision
    return torchvision


def _one_line(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "reason", None) or exc).split())


def _load_file(model: nn.Module, name: str, path: Path) -> None:
    """A state dict saved by torch.save(model.state_dict()) of torchvision's full `name`."""
    where = f"model.encoder.weights={path}"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a file that is no torch.save output: say which, in one line
        raise ValueError(f"{where}: cannot be read as a state dict ({_one_line(exc)})") from None
    if not isinstance(state, dict):
        raise ValueError(f"{where}: holds a {type(state).__name__}, not a state dict "
                         f"(save one with torch.save(model.state_dict(), path))")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        key, why = (missing[0], "missing") if missing else (unexpected[0], "unexpected")
        raise ValueError(f"{where}: not a torchvision {name} state dict: {why} key {key!r} "
                         f"({len(missing)} missing, {len(unexpected)} unexpected)")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # right keys, wrong shapes
        raise ValueError(f"{where}: does not fit torchvision's {name}: "
                         f"{_one_line(exc)}") from None


def _download(tv: types.ModuleType, model: nn.Module, name: str, weights: str) -> None:
    """torchvision's pretrained weights by enum name (IMAGENET1K_V1, DEFAULT)."""
    enum = tv.models.get_model_weights(name)
    try:
        chosen = enum.verify(weights)
    except (KeyError, ValueError):
        raise ValueError(f"model.encoder.weights={weights}: no such file, nor one of "
                         f"{enum.__name__}'s names ({', '.join(enum.__members__)})") from None
    try:
        state = chosen.get_state_dict(progress=False, check_hash=True)
    except (URLError, OSError) as exc:  # no network (HTTPError is a URLError)
        save = (f"import torch, torchvision; torch.save(torchvision.models.{name}"
                f"(weights='{weights}').state_dict(), '{name}.pth')")
        raise RuntimeError(f"model.encoder.weights={weights}: could not download {name}'s "
                           f"weights ({_one_line(exc)}); on a machine with a network run "
                           f"python -c \"{save}\" and pass the saved file: "
                           f"model.encoder.weights=/path/{name}.pth") from None
    model.load_state_dict(state)


def torchvision_backbone(name: str, in_channels: int, weights: Optional[str],
                         frozen: bool) -> nn.Module:
    """resnet18 | resnet50 from torchvision, cut before avgpool/fc: grid (B, 512 | 2048,
    H/32, W/32). `weights`: None (random init), a local file (torchvision's full resnet's
    state dict, fc included, as its downloaded .pth files are), or a torchvision weights
    enum name ("IMAGENET1K_V1", "DEFAULT"), downloaded when there is a network. `frozen`:
    no gradients, eval mode for good."""
    if name not in ("resnet18", "resnet50"):
        raise ValueError(f"model.encoder.backbone={name}: torchvision's resnet18 | resnet50")
    tv = import_torchvision(f"model.encoder.backbone={name}")
    model = getattr(tv.models, name)(weights=None)
    if weights is not None:
        path = Path(weights).expanduser()
        if path.is_file():
            _load_file(model, name, path)
        elif "/" in weights or path.suffix in (".pth", ".pt"):
            raise FileNotFoundError(f"model.encoder.weights={weights}: no such file")
        else:
            _download(tv, model, name, weights)
    return ResNetBackbone(model, in_channels, frozen)


def build_backbone(kind: str, in_channels: int, width: int, blocks: int,
                   weights: Optional[str], frozen: bool) -> nn.Module:
    """kind: "cnn" (SmallCNN of `width` and `blocks`) | "resnet18" | "resnet50" (`weights`,
    `frozen`)."""
    if kind == "cnn":
        if weights is not None or frozen:
            raise ValueError("model.encoder.backbone=cnn trains from scratch: weights and "
                             "frozen are for backbone=resnet18 or resnet50")
        return SmallCNN(in_channels, width, blocks)
    if kind in BACKBONES:
        return torchvision_backbone(kind, in_channels, weights, frozen)
    raise ValueError(f"model.encoder.backbone={kind}: one of {' | '.join(BACKBONES)}")
