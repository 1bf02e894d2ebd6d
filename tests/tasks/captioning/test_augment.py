"""Training-time augmentation (data.augment_*): each key changes the training images and
only them, a video's frames alike, the same way for the same batch (resuming is exact), the
run's random stream untouched; the keys are checked in one line each, left out of the
preparation's key and free to change when a run resumes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seq2seq.config.compose import ConfigError, load_config
from seq2seq.data.prepare import prepared_path
from seq2seq.tasks.captioning.arrays import CaptionArrays, write_captioned
from seq2seq.tasks.captioning.augment import Augmentation
from seq2seq.training.resume import changed_keys

ONE_BY_ONE = [{"jitter": 0.4}, {"saturation": 0.8}, {"hue": 0.3}, {"rotate": 30.0},
              {"scale": 0.3}, {"blur": 1.5}, {"grayscale": 0.5}]


def drawing(n: int = 8, frames: int = 1) -> torch.Tensor:
    """(n, frames, 3, 16, 16) uint8: coloured squares on white, each frame the same."""
    rng = np.random.default_rng(0)
    images = np.full((n, 1, 3, 16, 16), 255, np.uint8)
    for i in range(n):
        images[i, 0, :, 4:12, 3:10] = rng.integers(0, 200, 3, dtype=np.uint8)[:, None, None]
    return torch.from_numpy(images).repeat(1, frames, 1, 1, 1)


@pytest.mark.parametrize("change", ONE_BY_ONE, ids=lambda c: next(iter(c)))
def test_each_change_alone_changes_the_images_the_same_way_for_the_same_seed(change):
    images = drawing()
    augment = Augmentation(**change)
    out = augment(images, seed=7)
    assert out.dtype == torch.uint8 and out.shape == images.shape
    assert not torch.equal(out, images)
    assert torch.equal(augment(images, seed=7), out)  # a resumed run sees the same
    assert not torch.equal(augment(images, seed=8), out)


def test_nothing_asked_is_nothing_done():
    assert not Augmentation() and Augmentation(blur=0.5)


def test_a_video_s_frames_change_alike_and_the_run_s_randomness_is_untouched():
    videos = drawing(n=3, frames=4)
    state = torch.get_rng_state()
    out = Augmentation(jitter=0.4, hue=0.2, rotate=20.0, scale=0.2, blur=1.0)(videos, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    for video in out:
        assert all(torch.equal(video[0], frame) for frame in video[1:])


def test_grey_has_three_equal_channels_and_rotation_fills_with_the_background():
    grey = Augmentation(grayscale=1.0)(drawing(), seed=0)
    assert torch.equal(grey[:, :, 0], grey[:, :, 1]) and torch.equal(grey[:, :, 1], grey[:, :, 2])
    turned = Augmentation(rotate=45.0)(drawing(), seed=0)
    assert (turned[..., 0, 0] == 255).all() and (turned[..., -1, -1] == 255).all()


def test_only_training_batches_are_changed(tmp_path):
    images = [drawing(1)[0].numpy() for _ in range(2)]
    write_captioned(tmp_path / "train", images, (1, 3, 16, 16), [[[5]], [[6]]],
                    np.dtype(np.uint16))
    plain = CaptionArrays(tmp_path / "train").collate(np.array([0, 1])).src.values
    training = CaptionArrays(tmp_path / "train", augmentation=Augmentation(hue=0.3))
    changed = training.collate(np.array([0, 1])).src.values
    assert torch.equal(plain[0], torch.from_numpy(images[0])) and not torch.equal(changed, plain)
    assert torch.equal(training.collate(np.array([0, 1])).src.values, changed)  # repeatable


@pytest.mark.parametrize("override,key", [
    ("data.augment_hue=0.6", "data.augment_hue"),
    ("data.augment_jitter=-0.1", "data.augment_jitter"),
    ("data.augment_blur=0.05", "data.augment_blur"),
    ("data.augment_grayscale=1.5", "data.augment_grayscale"),
    ("data.augment_scale=1.0", "data.augment_scale")])
def test_a_bad_value_is_one_line_naming_its_key(override, key):
    with pytest.raises(ConfigError, match=f"config key '{key}'"):
        load_config(["experiment=emoji", override])


def test_colour_changes_need_colour_and_a_frozen_backbone_takes_none():
    with pytest.raises(ConfigError, match="'data.augment_hue'.*grey images"):
        load_config(["experiment=digits_image", "data.image_channels=1",
                     "data.augment_hue=0.1"])
    with pytest.raises(ConfigError, match="'data.augment_rotate'.*frozen backbone"):
        load_config(["experiment=emoji", "model.encoder.backbone=resnet18",
                     "model.encoder.frozen=true", "data.augment_rotate=10"])


def test_augmentation_neither_keys_the_preparation_nor_blocks_a_resume(tmp_path):
    from PIL import Image
    for split in ("train", "dev", "test"):  # the key stamps the corpus' files: a tiny one
        (tmp_path / split).mkdir()
        Image.fromarray(drawing(1)[0, 0].permute(1, 2, 0).numpy()).save(tmp_path / split / "a.png")
        (tmp_path / split / "metadata.jsonl").write_text('{"file_name": "a.png", "caption": "a"}\n')
    emoji = ["experiment=emoji", f"data.local_dir={tmp_path}"]
    plain = load_config(emoji)
    augmented = load_config([*emoji, "data.augment_hue=0.2", "data.augment_rotate=10",
                             "data.augment_grayscale=0.1"])
    assert prepared_path(plain) == prepared_path(augmented)
    assert changed_keys(plain, augmented) == []
    assert changed_keys(plain, load_config([*emoji, "data.image_height=48"]))
