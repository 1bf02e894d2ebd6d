"""Backbones: uint8 images in, the grid `grid_size` promises out; resnet weights from a file,
and one line when they cannot be had. Nothing touches the network."""
from __future__ import annotations

import subprocess
import sys
from urllib.error import URLError

import pytest
import torch
from torch import nn

from seq2seq.tasks.captioning.backbones import (BACKBONES, SmallCNN, build_backbone,
                                                import_torchvision,
                               torchvision_backbone)


def _images(b: int, c: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (b, c, h, w), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("c, h, w, width, blocks, grid", [
    (3, 32, 32, 8, 3, (4, 4)),
    (1, 8, 66, 4, 2, (2, 17)),  # odd sizes round up: 66 -> 33 -> 17
])
def test_small_cnn_grid(c, h, w, width, blocks, grid):
    cnn = SmallCNN(c, width=width, blocks=blocks)
    out = cnn(_images(2, c, h, w))
    assert out.shape == (2, width * 2 ** (blocks - 1), *grid) and out.dtype == torch.float32
    assert cnn.channels == out.size(1) and cnn.grid_size(h, w) == grid
    assert build_backbone("cnn", c, width, blocks, None, False).grid_size(h, w) == grid


def test_small_cnn_normalises_uint8_and_only_uint8():
    cnn = SmallCNN(1, width=4, blocks=1)
    x = torch.tensor([0, 255, 51], dtype=torch.uint8).view(1, 1, 1, 3)
    torch.testing.assert_close(cnn.normalise(x), torch.tensor([-1.0, 1.0, -0.6]).view(1, 1, 1, 3))
    for bad in (x.float() / 255, _images(1, 3, 4, 4)):  # already normalised; wrong channels
        with pytest.raises(TypeError, match="SmallCNN: expects uint8 images") as error:
            cnn(bad)
        assert "\n" not in str(error.value)


def test_cnn_takes_no_pretrained_weights():
    with pytest.raises(ValueError, match="backbone=cnn trains from scratch"):
        build_backbone("cnn", 3, 8, 2, "IMAGENET1K_V1", False)
    with pytest.raises(ValueError, match="one of cnn | resnet18 | resnet50"):
        build_backbone("vgg16", 3, 8, 2, None, False)
    assert BACKBONES == ("cnn", "resnet18", "resnet50")


def test_resnet18_loads_a_local_file(resnet18_file):
    path, model = resnet18_file
    torch.manual_seed(1)  # another random init, which the file must replace
    backbone = torchvision_backbone("resnet18", 3, str(path), frozen=False).eval()
    images = _images(2, 3, 64, 64)
    out = backbone(images)
    assert out.shape == (2, 512, 2, 2) and backbone.channels == 512
    assert backbone.grid_size(64, 64) == (2, 2) and backbone.grid_size(65, 33) == (3, 2)
    # the reference: the same resnet, cut by hand, on ImageNet-normalised input
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    cut = nn.Sequential(*list(model.children())[:-2]).eval()
    with torch.no_grad():
        torch.testing.assert_close(out.detach(), cut((images.float() / 255 - mean) / std))


def test_resnet_grey_input_is_repeated_to_rgb(resnet18_file):
    path, _ = resnet18_file
    grey = torchvision_backbone("resnet18", 1, str(path), frozen=False).eval()
    rgb = torchvision_backbone("resnet18", 3, str(path), frozen=False).eval()
    images = _images(2, 1, 40, 72)
    out = grey(images)
    assert out.shape == (2, 512, *grey.grid_size(40, 72)) == (2, 512, 2, 3)
    torch.testing.assert_close(out, rgb(images.repeat(1, 3, 1, 1)))


def test_frozen_resnet_has_no_grads_and_stays_in_eval(resnet18_file):
    path, _ = resnet18_file
    backbone = torchvision_backbone("resnet18", 3, str(path), frozen=True)
    assert not any(p.requires_grad for p in backbone.parameters())
    outer = nn.Sequential(backbone, nn.Conv2d(512, 4, 1))  # a model that holds it
    outer.train()
    assert outer.training and outer[1].training
    assert not any(m.training for m in backbone.modules())
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    outer(_images(2, 3, 32, 32)).sum().backward()
    for key, value in backbone.state_dict().items():  # BatchNorm statistics untouched
        torch.testing.assert_close(value, before[key], msg=key)
    assert all(p.grad is None for p in backbone.parameters())
    trainable = torchvision_backbone("resnet18", 3, str(path), frozen=False).train()
    assert trainable.training and all(p.requires_grad for p in trainable.parameters())


def test_a_file_with_wrong_keys_is_named_in_one_line(resnet18_file, tmp_path):
    path, model = resnet18_file
    state = model.state_dict()
    wrong = tmp_path / "wrong.pth"
    torch.save({("backbone." + k if k.startswith("conv1") else k): v
                for k, v in state.items()}, wrong)
    with pytest.raises(ValueError) as error:
        torchvision_backbone("resnet18", 3, str(wrong), frozen=False)
    message = str(error.value)
    assert str(wrong) in message and "missing key 'conv1.weight'" in message
    assert "\n" not in message
    with pytest.raises(ValueError, match="not a torchvision resnet50 state dict"):
        torchvision_backbone("resnet50", 3, str(path), frozen=False)  # resnet18's file
    with pytest.raises(FileNotFoundError, match="no such file"):
        torchvision_backbone("resnet18", 3, str(tmp_path / "absent.pth"), frozen=False)


def test_no_network_says_how_to_get_the_weights_in_one_line(monkeypatch):
    tv = import_torchvision()
    import torchvision.models._api as api

    def offline(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError) as error:
        torchvision_backbone("resnet18", 3, "IMAGENET1K_V1", frozen=True)
    message = str(error.value)
    assert message.startswith("model.encoder.weights=IMAGENET1K_V1: could not download "
                              "resnet18's weights (")
    assert "Temporary failure in name resolution" in message and "\n" not in message
    assert ("torch.save(torchvision.models.resnet18(weights='IMAGENET1K_V1').state_dict(), "
            "'resnet18.pth')") in message
    assert message.endswith("model.encoder.weights=/path/resnet18.pth")
    with pytest.raises(ValueError, match="IMAGENET1K_V1, DEFAULT"):
        torchvision_backbone("resnet18", 3, "IMAGENET", frozen=False)
    assert tv.models.ResNet18_Weights  # still importable after the failure


def test_missing_torchvision_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # `import torchvision` now fails
    with pytest.raises(ImportError, match=r"backbone=resnet50 needs torchvision: "
                                          r"pip install 'seq2seq\[vision\]'"):
        build_backbone("resnet50", 3, 8, 2, None, False)


def test_importing_backbones_does_not_import_torchvision():
    code = ("import sys, seq2seq.tasks.captioning.backbones; "
            "print(sorted(m for m in sys.modules if m.startswith('torchvision')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
