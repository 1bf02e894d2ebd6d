"""Encoders that see: an image or a sequence of frames in, the decoder's initial `State` out.
The decoder is translation's `RecurrentDecoder`, unchanged; search, ensembles and n-best
work as they do for text.

    ImageEncoder (Show and Tell; Vinyals et al. 2015)
      image (B, C, H, W) uint8 --CNN--> grid (B, D, h, w) --flatten, linear--> feature f
        image_feed=input: f (B, E) is the decoder's input before <bos>, from a zero state
        image_feed=state: every layer's h0 = tanh(W_h f), c0 = W_c f
      attention (Show, Attend and Tell; Xu et al. 2015): the grid's h*w cells, projected to
      the decoder's size, are the memory; every cell is real (the mask is all true)

    FrameEncoder (LRCN; Donahue et al. 2015)
      frames (B, T, C, H, W) --CNN per frame, flatten--> (B, T, D*h*w) --reversed, as a source
      sentence is, when reverse_source--> SequenceEncoder with a Linear input layer
      (features -> emb_dim) instead of an embedding: its final state (and, for attention,
      every frame's state) starts the decoder

What a source holds (seq2seq/data/sources.py): Source(values=(B, T, C, H, W) uint8, lens=(B,)
real frames); an image is a video of one frame. The builders take the model config and
the images' (channels, height, width), where a text encoder takes a vocabulary size.
Default image_feed=input: the paper's choice, and then the decoder starts as a language
model does (zero state) and reads the image as its first word; state is the other common
choice (Karpathy's NeuralTalk, Show Attend and Tell's initial state).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from seq2seq.config.compose import EncoderConfig, ModelConfig
from seq2seq.data.sources import ImageShape, Source
from seq2seq.models.encoder_decoder import Seq2Seq, builder, uniform_init
from seq2seq.models.encoders import SequenceEncoder
from seq2seq.models.recurrent import State, stacked_rnn
from seq2seq.tasks.captioning.backbones import BACKBONES, build_backbone

IMAGE_FEEDS = ("input", "state")  # model.encoder.image_feed
# model.encoder.build of model/encoder=image and model/encoder=frames
IMAGE_ENCODER, FRAME_ENCODER = f"{__name__}.image_encoder", f"{__name__}.frame_encoder"


@dataclass
class ImageEncoderConfig(EncoderConfig):
    """The node of model/encoder=image (Show and Tell; with attention over the CNN's grid:
    Show, Attend and Tell) and model/encoder=frames (LRCN: a CNN a frame, then the recurrent
    encoder): the backbone's keys."""
    backbone: str = "cnn"  # cnn (small, from scratch) | resnet18 | resnet50 (torchvision)
    cnn_width: int = 32  # the small CNN's first channels (doubling each block)
    cnn_blocks: int = 3  # its conv-conv-pool blocks: each halves the grid
    # resnet weights: none (random) | a local .pth state dict | a torchvision enum name
    # (IMAGENET1K_V1, DEFAULT: downloaded when there is a network)
    weights: Optional[str] = None
    frozen: bool = False  # resnet: keep the pretrained weights (and batch statistics) fixed
    # How the image starts the decoder: input (Show and Tell: its feature vector is the
    # decoder's input before <bos>) | state (it initialises every layer's h and c)
    image_feed: str = "input"


class ImageEncoder(nn.Module):
    """An image -> the decoder's start (a first input or the state), and its grid as memory."""

    def __init__(self, backbone: nn.Module, grid: tuple[int, int], emb_dim: int,
                 hidden_dim: int, layers: int, cell: str, feed: str, dropout: float):
        super().__init__()
        self.backbone, self.feed, self.drop = backbone, feed, nn.Dropout(dropout)
        self.layers, self.hidden_dim, self.cell = layers, hidden_dim, cell
        self.grid = grid  # (h, w): the memory's cells, row by row (attention panels)
        flat = backbone.channels * grid[0] * grid[1]
        self.feature = nn.Linear(flat, emb_dim if feed == "input" else layers * hidden_dim)
        self.feature_c = (nn.Linear(flat, layers * hidden_dim)
                          if feed == "state" and cell == "lstm" else None)
        self.cells = nn.Linear(backbone.channels, hidden_dim)  # grid cells -> memory

    def forward(self, src: Source, memory: bool) -> State:
        grid = run_backbone(self.backbone, src.values[:, 0])  # (B, D, h, w): one frame
        B = grid.size(0)
        flat = self.drop(grid.flatten(1))  # (B, D*h*w): where a thing is, kept
        if self.feed == "input":
            h = grid.new_zeros(self.layers, B, self.hidden_dim)  # (L, B, H)
            state = State(h, h.clone() if self.cell == "lstm" else None,
                          first=self.feature(flat))  # first (B, E)
        else:
            h = torch.tanh(self.feature(flat)).view(B, self.layers, -1).transpose(0, 1)
            c = (None if self.feature_c is None else
                 self.feature_c(flat).view(B, self.layers, -1).transpose(0, 1).contiguous())
            state = State(h.contiguous(), c)  # (L, B, H)
        if not memory:
            return state
        cells = torch.tanh(self.cells(grid.flatten(2).transpose(1, 2)))  # (B, h*w, H)
        mask = torch.ones(cells.shape[:2], dtype=torch.bool, device=cells.device)
        return state._replace(memory=self.drop(cells), mask=mask)


class FrameEncoder(nn.Module):
    """Frames -> per-frame CNN features -> the recurrent encoder over them (LRCN)."""

    def __init__(self, backbone: nn.Module, sequence: SequenceEncoder, reverse: bool):
        super().__init__()
        self.backbone, self.sequence, self.reverse = backbone, sequence, reverse
        self.layers, self.hidden_dim, self.cell = (sequence.layers, sequence.hidden_dim,
                                                   sequence.cell)

    def forward(self, src: Source, memory: bool) -> State:
        B, T = src.values.shape[:2]
        real = torch.arange(T, device=src.lens.device) < src.lens.unsqueeze(1)  # (B, T)
        grids = run_backbone(self.backbone, src.values[real])  # (R, D, h, w): real frames
        features = grids.new_zeros(B, T, grids[0].numel())  # (B, T, D*h*w)
        features[real] = grids.flatten(1)
        if self.reverse:  # the last real frame first, as a reversed sentence; padding stays
            order = (src.lens.unsqueeze(1) - 1 - torch.arange(T, device=real.device)) % T
            order = torch.where(real, order, torch.arange(T, device=real.device))  # (B, T)
            features = features.gather(1, order.unsqueeze(-1).expand_as(features))
        return self.sequence(Source(features, src.lens), memory)


def run_backbone(backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Pixels (uint8) through the CNN; a frozen CNN's cached grids (float) as they are."""
    return backbone(x) if x.dtype == torch.uint8 else x.float()


def _backbone(cfg: ModelConfig, image: ImageShape) -> nn.Module:
    e = cfg.encoder
    return build_backbone(e.backbone, image.channels, e.cnn_width, e.cnn_blocks, e.weights,
                          e.frozen)


def image_encoder(cfg: ModelConfig, image: ImageShape) -> ImageEncoder:
    """Show and Tell's encoder (`model/encoder=image`): the backbone, a feature vector, and
    its grid for attention."""
    backbone = _backbone(cfg, image)
    return ImageEncoder(backbone, backbone.grid_size(image.height, image.width), cfg.emb_dim,
                        cfg.hidden_dim, cfg.layers, cfg.cell, cfg.encoder.image_feed,
                        cfg.dropout)


def frame_encoder(cfg: ModelConfig, image: ImageShape) -> FrameEncoder:
    """LRCN's encoder (`model/encoder=frames`): the backbone on every frame, then the paper's
    stacked LSTM (or a bidirectional one) over the frames' features."""
    backbone, e = _backbone(cfg, image), cfg.encoder
    h, w = backbone.grid_size(image.height, image.width)
    sequence = SequenceEncoder(
        nn.Linear(backbone.channels * h * w, cfg.emb_dim),
        stacked_rnn(cfg.cell, cfg.emb_dim, e.hidden_dim or cfg.hidden_dim, cfg.layers,
                    cfg.dropout, e.bidirectional),
        cfg.dropout, decoder_dim=cfg.hidden_dim)
    return FrameEncoder(backbone, sequence, cfg.reverse_source)


def vision_checks(cfg: ModelConfig) -> list[tuple[str, bool, str]]:
    """The image encoders' own keys (seq2seq/config/checks.py runs them when one is chosen)."""
    enc = cfg.encoder
    return [
        ("model.encoder.backbone", enc.backbone in BACKBONES, " | ".join(BACKBONES)),
        ("model.encoder.image_feed", enc.image_feed in IMAGE_FEEDS, " | ".join(IMAGE_FEEDS)),
        ("model.encoder.cnn_blocks", enc.cnn_blocks >= 1, "must be >= 1"),
        ("model.encoder.cnn_width", enc.cnn_width >= 1, "must be >= 1"),
        ("model.encoder.weights", enc.weights is None or enc.backbone != "cnn",
         "pretrained weights are for backbone=resnet18 or resnet50"),
        ("model.encoder.frozen", not enc.frozen or enc.backbone != "cnn",
         "only a pretrained backbone (resnet18, resnet50) is kept fixed"),
    ]


# What each reads (seq2seq/config/checks.py matches it with the task's), its keys and their checks.
for _build, _reads in ((image_encoder, "image"), (frame_encoder, "frames")):
    _build.reads, _build.config, _build.checks = _reads, ImageEncoderConfig, vision_checks


def build_caption_model(cfg: ModelConfig, image: ImageShape, tgt_vocab: int) -> Seq2Seq:
    """The encoder `model.encoder.build` names for these images and the decoder
    `model.decoder.build` names; uniform(-init_range, init_range) everywhere but the CNN."""
    model = Seq2Seq(builder(cfg.encoder.build)(cfg, image),
                    builder(cfg.decoder.build)(cfg, tgt_vocab))
    return uniform_init(model, cfg.init_range, keep="encoder.backbone.")
