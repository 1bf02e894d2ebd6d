"""Handwritten digit strings: every caption says what its pixels show, and no digit image is
in both train and test."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import recipe_module

_builder = recipe_module("digit-strings", "build_data")
DigitStrings, build, digits, main = (_builder.DigitStrings, _builder.build, _builder.digits,
                                     _builder.main)
pools, read, to_uint8, write = _builder.pools, _builder.read, _builder.to_uint8, _builder.write

PAD, SHIFT, MAX = 2, 1, 5


@pytest.fixture(scope="module")
def train() -> DigitStrings:
    return build("train", 300, seed=3, min_digits=2, max_digits=MAX, pad=PAD, shift=SHIFT)


def test_shapes_and_dtypes(train):
    f = 8 + 2 * SHIFT
    assert train.images.shape == (300, 8 + 2 * PAD, 8 * MAX + PAD * (MAX + 1))
    assert train.frames.shape == (300, MAX, f, f)
    assert train.images.dtype == train.frames.dtype == np.float32
    assert train.lengths.shape == (300,) and train.sources.shape == (300, MAX)
    assert np.issubdtype(train.lengths.dtype, np.integer)
    assert np.issubdtype(train.sources.dtype, np.integer)
    assert len(train.captions) == 300
    assert 0 <= train.images.min() and train.images.max() <= 1 and train.images.max() > 0.9
    assert set(train.lengths) == set(range(2, MAX + 1))  # every length drawn at this n


def test_captions_say_the_classes_of_the_images_used(train):
    target = digits()[1]
    for caption, k, row in zip(train.captions, train.lengths, train.sources):
        assert caption.split() == [str(target[s]) for s in row[:k]]
        assert len(caption.split()) == k and " ".join(caption.split()) == caption
        assert (row[:k] >= 0).all() and (row[k:] == -1).all()
    assert {c for caption in train.captions for c in caption.split()} == set("0123456789")


def test_train_and_dev_never_use_a_test_image_and_together_cover_them_all():
    train_pool, test_pool = pools()
    assert not set(train_pool) & set(test_pool)
    assert len(train_pool) + len(test_pool) == 1797
    assert abs(len(test_pool) - 0.2 * 1797) < 10  # about a fifth of each class
    assert np.bincount(digits()[1][test_pool]).min() >= 30
    used = {split: build(split, n, seed=1).sources for split, n in
            (("train", 2000), ("dev", 200), ("test", 500))}
    seen = {s: set(used[s][used[s] >= 0].tolist()) for s in used}
    assert seen["train"] | seen["dev"] <= set(train_pool.tolist())
    assert seen["test"] <= set(test_pool.tolist())
    assert len(seen["train"] | seen["dev"] | seen["test"]) >= 0.98 * 1797


def test_each_digit_sits_at_its_place_on_a_blank_canvas(train):
    images = digits()[0]
    for i in range(40):
        canvas = train.images[i].copy()
        for t in range(train.lengths[i]):
            x = PAD + t * (8 + PAD)
            crop = canvas[PAD:PAD + 8, x:x + 8]
            np.testing.assert_array_equal(crop, images[train.sources[i, t]])
            crop[:] = 0
        assert not canvas.any()  # padding, gaps and the unused places are blank


def _offset_of(frame: np.ndarray, image: np.ndarray) -> tuple[int, int] | None:
    for y in range(2 * SHIFT + 1):
        for x in range(2 * SHIFT + 1):
            rest = frame.copy()
            if np.array_equal(rest[y:y + 8, x:x + 8], image):
                rest[y:y + 8, x:x + 8] = 0
                if not rest.any():
                    return y - SHIFT, x - SHIFT
    return None


def test_each_frame_shows_its_digit_shifted_a_little_then_blank_frames(train):
    images = digits()[0]
    offsets = set()
    for i in range(60):
        k = train.lengths[i]
        for t in range(k):
            offset = _offset_of(train.frames[i, t], images[train.sources[i, t]])
            assert offset is not None, f"example {i} frame {t}"
            offsets.add(offset)
        assert not train.frames[i, k:].any()
    assert len(offsets) > 1  # the shifts do vary


def test_same_seed_same_data_other_seed_or_split_other_data(train):
    again = build("train", 300, seed=3, min_digits=2, max_digits=MAX, pad=PAD, shift=SHIFT)
    _assert_equal(train, again)
    for other in (build("train", 300, seed=4, min_digits=2, max_digits=MAX, pad=PAD, shift=SHIFT),
                  build("dev", 300, seed=3, min_digits=2, max_digits=MAX, pad=PAD, shift=SHIFT)):
        assert other.captions != train.captions
        assert not np.array_equal(other.sources, train.sources)


def test_written_files_hold_the_data_as_uint8(train, tmp_path):
    images, frames = write(train, tmp_path / "digits", "train")
    assert (images, frames) == (tmp_path / "digits/images/train", tmp_path / "digits/frames/train")
    for folder, suffix in ((images, ".png"), (frames, ".npy")):
        rows = [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]
        assert [row["caption"] for row in rows] == train.captions
        assert [row["file_name"] for row in rows] == [f"train-{i:06d}{suffix}" for i in range(300)]
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [row["file_name"] for row in rows] + ["metadata.jsonl"])
    with Image.open(images / "train-000007.png") as png:
        assert png.mode == "L" and png.size == train.images.shape[:0:-1]  # (W, H)
        np.testing.assert_array_equal(np.asarray(png), to_uint8(train.images[7]))
    back = read(tmp_path / "digits", "train")
    assert back.captions == train.captions
    for i in range(300):
        k = train.lengths[i]
        np.testing.assert_array_equal(back.images[i], np.rint(train.images[i] * 255))
        assert back.frames[i].dtype == np.uint8 and back.frames[i].shape == (k, 8 + 2 * SHIFT, 8 + 2 * SHIFT)
        np.testing.assert_array_equal(back.frames[i], to_uint8(train.frames[i, :k]))
    assert back.images[0].dtype == np.uint8
    np.testing.assert_array_equal(to_uint8(np.array([0, 1 / 16, 0.5, 1])), [0, 16, 128, 255])


def test_main_writes_three_splits(tmp_path, capsys):
    main([str(tmp_path), "--train", "20", "--dev", "5", "--test", "7", "--seed", "2",
          "--min-digits", "2", "--max-digits", "3"])
    written = {s: read(tmp_path, s) for s in ("train", "dev", "test")}
    assert [len(w.captions) for w in written.values()] == [20, 5, 7]
    assert all(2 <= len(c.split()) <= 3 for w in written.values() for c in w.captions)
    assert all(len(f) == len(c.split()) for w in written.values()
               for f, c in zip(w.frames, w.captions))
    assert written["dev"].captions == build("dev", 5, seed=2, min_digits=2, max_digits=3).captions
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[0].startswith("train: 20 examples")
    assert str(tmp_path / "images" / "train") in out[0] and str(tmp_path / "frames") in out[0]


@pytest.mark.parametrize("args, message", [
    (("valid", 5), "unknown split 'valid'"),
    (("train", 0), "n must be at least 1"),
    (("train", 5, 0, 3), "min_digits <= max_digits"),
    (("train", 5, 4, 3), "min_digits <= max_digits"),
])
def test_bad_arguments_fail_in_one_line(args, message):
    split, n, *digit_range = args
    kwargs = dict(zip(("min_digits", "max_digits"), digit_range))
    with pytest.raises(ValueError, match=message) as error:
        build(split, n, seed=1, **kwargs)
    assert "\n" not in str(error.value) and "digit_strings" in str(error.value)


def test_missing_or_mismatched_files_are_named(train, tmp_path):
    with pytest.raises(FileNotFoundError, match="images/train/metadata.jsonl") as error:
        read(tmp_path, "train")
    assert "\n" not in str(error.value)
    write(train, tmp_path, "train")
    metadata = tmp_path / "frames" / "train" / "metadata.jsonl"
    metadata.write_text("".join(metadata.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(ValueError, match="metadata.jsonl captions differ") as error:
        read(tmp_path, "train")
    assert "\n" not in str(error.value)


def _assert_equal(a: DigitStrings, b: DigitStrings) -> None:
    assert a.captions == b.captions
    for name in ("images", "frames", "lengths", "sources"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
