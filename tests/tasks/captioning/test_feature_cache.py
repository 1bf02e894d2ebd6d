"""A frozen backbone's grids, cached once per prepared split: computed on first use, reused
after, equal to running the CNN (to float16), and what the image encoder gives on them equals
what it gives on the pixels."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seq2seq.config.compose import load_config
from seq2seq.tasks.captioning import feature_cache
from seq2seq.tasks.captioning.arrays import CaptionArrays, write_captioned
from seq2seq.tasks.captioning.backbones import build_backbone, import_torchvision
from seq2seq.tasks.captioning.encoders import ImageShape, build_caption_model
from seq2seq.tasks.captioning.feature_cache import FrozenBackbone

SHAPE = (1, 3, 64, 64)  # (T, C, H, W): images, one frame each


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.manual_seed(0)
    torch.save(import_torchvision().models.resnet18(weights=None).state_dict(), path)
    return path


@pytest.fixture
def split(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, SHAPE, dtype=np.uint8) for _ in range(5)]
    write_captioned(tmp_path / "train", images, SHAPE, [[[5, 6]], [[7]], [[5]], [[6, 6]], [[8]]],
                    np.dtype(np.uint16))
    return tmp_path / "train", np.stack(images)


def spec(weights) -> FrozenBackbone:
    return FrozenBackbone("resnet18", str(weights), *SHAPE[1:])


def test_grids_are_computed_once_and_equal_the_cnn(split, weights, monkeypatch):
    directory, images = split
    arrays = CaptionArrays(directory, spec(weights))
    cache = list(directory.glob("features-*.f16"))
    assert len(cache) == 1 and arrays.grids.shape == (5, 1, 512, 2, 2)
    backbone = build_backbone("resnet18", 3, 0, 0, str(weights), frozen=True)
    with torch.no_grad():
        expected = backbone(torch.from_numpy(images[:, 0])).numpy()
    np.testing.assert_allclose(arrays.grids[:, 0].astype(np.float32), expected,
                               rtol=1e-2, atol=1e-2)
    # a second reader (another epoch's, another run's) maps the file: nothing is computed
    monkeypatch.setattr(feature_cache, "_compute", lambda *a, **k: pytest.fail("recomputed"))
    again = CaptionArrays(directory, spec(weights))
    assert np.array_equal(again.grids, arrays.grids)


def test_other_weights_get_another_cache(split, weights, tmp_path):
    directory, _ = split
    other = tmp_path / "other.pth"
    torch.manual_seed(1)
    torch.save(import_torchvision().models.resnet18(weights=None).state_dict(), other)
    CaptionArrays(directory, spec(weights))
    CaptionArrays(directory, spec(other))
    assert len(list(directory.glob("features-*.f16"))) == 2


def test_the_encoder_reads_cached_grids_as_it_reads_pixels(split, weights):
    directory, _ = split
    cfg = load_config(["experiment=emoji_attention", "model.encoder.backbone=resnet18",
                       f"model.encoder.weights={weights}", "model.encoder.frozen=true",
                       "model.emb_dim=8", "model.hidden_dim=16"]).model
    model = build_caption_model(cfg, ImageShape(*SHAPE[1:]), 20).eval()
    pixels, grids = CaptionArrays(directory), CaptionArrays(directory, spec(weights))
    rows = np.arange(5)
    assert pixels.source(rows).values.dtype == torch.uint8
    assert grids.source(rows).values.dtype == torch.float32
    tgt = torch.tensor([[2, 5, 6]] * 5)
    with torch.no_grad():
        a = model(pixels.source(rows), tgt)
        b = model(grids.source(rows), tgt)
    torch.testing.assert_close(a, b, rtol=2e-2, atol=2e-2)
