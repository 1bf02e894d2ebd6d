"""Captioned images: every layout reads the same records, images and frames load to the
asked shape, and bad input names its file and line (or JSON index) in one line."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seq2seq.tasks.captioning.records import FORMATS, CaptionRecord, read_records
from seq2seq.tasks.captioning.images import is_video, load_frames, load_image

# three images, two captions each; "dev" holds the third (a caption with a comma and quotes)
IMAGES = {"a.jpg": ["A dog runs.", "A  brown dog\truns on grass ."],
          "b.png": ["Two cats.", "Cats sleeping"],
          "c.jpg": ['A man, "smiling", waves', "Someone waves"]}
SPLITS = {"train": ["a.jpg", "b.png"], "dev": ["c.jpg"], "test": []}


def _image(path: Path, colour=(200, 30, 40), size=(8, 6), mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


def _write(root: Path, fmt: str) -> Path:
    """The same images and captions in the layout `fmt`; returns local_dir."""
    if fmt == "imagefolder":
        for split, names in SPLITS.items():
            (root / split).mkdir(parents=True)
            lines = [json.dumps({"file_name": n, "caption": IMAGES[n]}) for n in names]
            (root / split / "metadata.jsonl").write_text("".join(x + "\n" for x in lines))
            for name in names:
                _image(root / split / name)
        return root
    if fmt == "karpathy":  # Flickr's JSON has no "filepath"; COCO's does
        ours = {n: s for s, names in SPLITS.items() for n in names}
        images = [{"filepath": "imgs", "filename": n, "imgid": i,
                   "split": {"train": "train", "dev": "val"}[ours[n]],
                   "sentences": [{"raw": c, "tokens": c.lower().split()} for c in IMAGES[n]]}
                  for i, n in enumerate(IMAGES)]
        (root / "dataset_coco.json").write_text(json.dumps({"images": images}))
        for name in IMAGES:
            _image(root / "imgs" / name)
        return root
    rows = [(n, c) for n, caps in IMAGES.items() for c in caps]  # Kaggle's captions.txt
    quoted = ['"' + c.replace('"', '""') + '"' if "," in c or '"' in c else c for _, c in rows]
    (root / "captions.txt").write_text(
        "image,caption\n" + "".join(f"{n},{q}\n" for (n, _), q in zip(rows, quoted)))
    _flickr_lists(root)
    for name in IMAGES:
        _image(root / "Images" / name)
    return root


def _flickr_lists(root: Path) -> None:
    for split, file in [("train", "train"), ("dev", "dev"), ("test", "test")]:
        (root / f"Flickr_8k.{file}Images.txt").write_text(
            "".join(n + "\n" for n in SPLITS[split]))


def _expected(split: str) -> list[tuple[str, list[str]]]:
    return [(n, [" ".join(c.split()) for c in IMAGES[n]]) for n in SPLITS[split]]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("split", ["train", "dev"])
def test_every_format_reads_the_same_records(tmp_path, fmt, split):
    records = read_records(fmt, str(_write(tmp_path, fmt)), split, ["caption"])
    assert [(r.path.name, r.captions) for r in records] == _expected(split)
    assert all(r.path.is_file() and str(tmp_path) in r.where for r in records)


def test_karpathy_takes_the_json_file_restval_and_an_image_root(tmp_path):
    _write(tmp_path, "karpathy")
    data = json.loads((tmp_path / "dataset_coco.json").read_text())
    data["images"][1]["split"] = "restval"  # Karpathy's extra COCO training images
    data["images"][2]["split"] = "test"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dataset_coco.json").write_text(json.dumps(data))
    got = read_records("karpathy", str(tmp_path / "data" / "dataset_coco.json"), "train",
                       ["caption"], image_root=str(tmp_path))
    assert [r.path for r in got] == [tmp_path / "imgs" / "a.jpg", tmp_path / "imgs" / "b.png"]
    assert got[1].where.endswith("dataset_coco.json: images[1]")
    assert [r.path.name for r in read_records("karpathy", str(tmp_path / "data"), "test",
                                              [], image_root=str(tmp_path))] == ["c.jpg"]
    assert len(read_records("karpathy", str(tmp_path / "data"), "restval", [],
                            image_root=str(tmp_path))) == 1


def test_flickr_token_file_merges_five_lines_an_image(tmp_path):
    (tmp_path / "Flickr8k.token.txt").write_text("".join(
        f"{n}#{i}\t{c}\n" for n, caps in IMAGES.items() for i, c in enumerate(caps)))
    _flickr_lists(tmp_path)
    for name in IMAGES:
        _image(tmp_path / "Flicker8k_Dataset" / name)
    got = read_records("flickr", str(tmp_path), "train", ["caption"])
    assert [(r.path.name, r.captions) for r in got] == _expected("train")
    assert got[1].where == f"{tmp_path / 'Flickr8k.token.txt'}:3"
    assert got[0].path.parent.name == "Flicker8k_Dataset"


def test_several_caption_columns_and_lists_merge_in_order(tmp_path):
    (tmp_path / "train").mkdir()
    _image(tmp_path / "train" / "x.png")
    np.save(tmp_path / "train" / "clip.npy", np.zeros((2, 4, 4), np.uint8))
    rows = [{"file_name": "x.png", "caption": ["one", "two"], "alt": "three"},
            {"file_name": "clip.npy", "caption": "a clip", "alt": ["", "  "]},
            {"file_name": "x.png", "caption": "two", "alt": ["four", "one"]}]
    (tmp_path / "train" / "metadata.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + "\n")
    got = read_records("imagefolder", str(tmp_path), "train", ["caption", "alt"])
    meta = tmp_path / "train" / "metadata.jsonl"
    assert got == [CaptionRecord(tmp_path / "train" / "x.png", ["one", "two", "three", "four"],
                                 f"{meta}:1"),
                   CaptionRecord(tmp_path / "train" / "clip.npy", ["a clip"], f"{meta}:2")]
    assert [is_video(r.path) for r in got] == [False, True]
    assert is_video(tmp_path) and not is_video(meta)


def test_load_image_sizes_channels_alpha_and_resize(tmp_path):
    rgb = load_image(_image(tmp_path / "a.png", (200, 30, 40)), 6, 8, 3)
    assert rgb.dtype == np.uint8 and rgb.shape == (3, 6, 8)
    assert rgb[:, 0, 0].tolist() == [200, 30, 40]
    grey = load_image(tmp_path / "a.png", 6, 8, 1)
    assert grey.shape == (1, 6, 8)
    assert grey[0, 0, 0] == Image.new("RGB", (1, 1), (200, 30, 40)).convert("L").getpixel((0, 0))
    clear = _image(tmp_path / "clear.png", (0, 0, 0, 0), mode="RGBA")  # fully transparent
    assert (load_image(clear, 6, 8, 3) == 255).all() and (load_image(clear, 6, 8, 1) == 255).all()
    half = load_image(_image(tmp_path / "half.png", (0, 0, 0, 128), mode="RGBA"), 6, 8, 3)
    assert abs(int(half[0, 0, 0]) - 127) <= 1  # half black over white
    resized = load_image(_image(tmp_path / "big.jpg", (10, 250, 10), size=(40, 30)), 3, 5, 3)
    assert resized.shape == (3, 3, 5) and abs(int(resized[1, 1, 2]) - 250) <= 3
    from_grey = load_image(_image(tmp_path / "g.png", 90, mode="L"), 6, 8, 3)
    assert (from_grey == 90).all()


@pytest.mark.parametrize("channels", [1, 3])
def test_sixteen_bit_grey_reads_as_its_eight_bit_twin(tmp_path, channels):
    eight = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5  # 0..235: not all one value
    wide = eight.astype(np.uint16) * 257  # 8-bit v is 16-bit v * 257: 255 -> 65535
    Image.fromarray(eight).save(tmp_path / "8.png")
    Image.fromarray(wide).save(tmp_path / "16.png")
    with Image.open(tmp_path / "16.png") as saved:
        assert saved.mode.startswith("I"), saved.mode  # really 16 bits on disk
    twin = load_image(tmp_path / "8.png", 6, 8, channels).astype(int)
    pixels = load_image(tmp_path / "16.png", 6, 8, channels).astype(int)
    assert not (pixels == 255).all() and np.abs(pixels - twin).max() <= 1
    big = load_image(tmp_path / "16.png", 12, 16, channels).astype(int)  # resized too
    assert np.abs(big - load_image(tmp_path / "8.png", 12, 16, channels)).max() <= 1
    Image.fromarray(wide.astype(">u2")).save(tmp_path / "16b.tif")  # big-endian 'I;16B'
    assert (load_image(tmp_path / "16b.tif", 6, 8, channels) == twin).all()
    Image.fromarray(wide.astype(np.int32)).save(tmp_path / "32.tif")  # 32-bit 'I'
    assert (load_image(tmp_path / "32.tif", 6, 8, channels) == twin).all()
    Image.fromarray(eight / np.float32(255)).save(tmp_path / "f.tif")  # float 'F', 0..1
    assert np.abs(load_image(tmp_path / "f.tif", 6, 8, channels) - twin).max() <= 1


def test_wide_images_beyond_their_range_are_refused_in_one_line(tmp_path):
    Image.fromarray(np.full((4, 4), 70000, np.int32)).save(tmp_path / "32.tif")
    _one_line_error(ValueError, lambda: load_image(tmp_path / "32.tif", 4, 4, 3),
                    "32.tif", "outside 0..65535")
    Image.fromarray(np.full((4, 4), 2.0, np.float32)).save(tmp_path / "f.tif")
    _one_line_error(ValueError, lambda: load_image(tmp_path / "f.tif", 4, 4, 1),
                    "f.tif", "outside [0, 1]")


def test_a_transparent_sixteen_bit_value_stays_transparent(tmp_path):
    wide = np.full((4, 4), 100 * 257, np.uint16)
    wide[0, 0] = 100 * 257 + 1  # the transparent value; its 8-bit twin is 100 too
    Image.fromarray(wide).save(tmp_path / "t.png", transparency=100 * 257 + 1)
    with Image.open(tmp_path / "t.png") as saved:
        assert saved.info.get("transparency") == 100 * 257 + 1, saved.info
    pixels = load_image(tmp_path / "t.png", 4, 4, 1)
    assert pixels[0, 0, 0] == 255 and (pixels[0].ravel()[1:] == 100).all()


@pytest.mark.parametrize("shape,dtype", [((3, 5, 7), np.uint8), ((3, 5, 7, 3), np.uint8),
                                         ((3, 5, 7), np.float32), ((3, 5, 7, 3), np.float64)])
@pytest.mark.parametrize("channels", [1, 3])
def test_load_frames_from_npy(tmp_path, shape, dtype, channels):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    np.save(tmp_path / "v.npy", pixels if dtype == np.uint8 else (pixels / 255).astype(dtype))
    frames = load_frames(tmp_path / "v.npy", 5, 7, channels)
    assert frames.dtype == np.uint8 and frames.shape == (3, channels, 5, 7)
    if len(shape) == 3 or channels == 3:  # no colour conversion: the pixels come back
        want = pixels[:, None] if len(shape) == 3 else pixels.transpose(0, 3, 1, 2)
        assert (frames == np.broadcast_to(want, frames.shape)).all()
    assert load_frames(tmp_path / "v.npy", 10, 14, channels).shape == (3, channels, 10, 14)


def test_load_frames_from_a_folder_sorted_by_name(tmp_path):
    for i, value in [(10, 30), (2, 20), (1, 10)]:  # frame_10 after frame_2
        _image(tmp_path / "clip" / f"frame_{i}.png", (value, value, value))
    (tmp_path / "clip" / "notes.txt").write_text("not a frame")
    frames = load_frames(tmp_path / "clip", 6, 8, 1)
    assert frames.shape == (3, 1, 6, 8) and frames[:, 0, 0, 0].tolist() == [10, 20, 30]


def _one_line_error(exc_type, call, *parts) -> str:
    with pytest.raises(exc_type) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for part in parts:
        assert str(part) in message, (part, message)
    return message


def _imagefolder_with(tmp_path: Path, lines: list) -> tuple[Path, Path]:
    (tmp_path / "train").mkdir(exist_ok=True)
    for name in ("a.jpg", "g.jpg"):
        _image(tmp_path / "train" / name)
    meta = tmp_path / "train" / "metadata.jsonl"
    meta.write_bytes(b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n"
                              for x in lines))
    return tmp_path, meta


GOOD = {"file_name": "g.jpg", "caption": "fine"}  # another image than the bad lines


@pytest.mark.parametrize("bad,why", [
    (b"{not json", "not JSON"),
    ({"caption": "no file"}, "file_name"),
    ({"file_name": "a.jpg", "text": "x"}, "'caption'"),
    ({"file_name": "a.jpg", "caption": ["  ", ""]}, "no (non-empty) caption"),
    ({"file_name": "a.jpg", "caption": 3}, "a caption is a string"),
    ({"file_name": "gone.jpg", "caption": "x"}, "gone.jpg"),
    (b'{"file_name": "a.jpg", "caption": "caf\xe9"}', "invalid UTF-8"),
])
def test_bad_imagefolder_lines_are_named(tmp_path, bad, why):
    local, meta = _imagefolder_with(tmp_path, [GOOD, bad])
    error = ValueError if why != "gone.jpg" else FileNotFoundError
    _one_line_error(error, lambda: read_records("imagefolder", str(local), "train", ["caption"]),
                    f"{meta}:2", why)


def test_missing_metadata_empty_split_and_unknown_format(tmp_path):
    _one_line_error(FileNotFoundError, lambda: read_records("imagefolder", str(tmp_path), "dev",
                                                            []), tmp_path / "dev" / "metadata.jsonl")
    local, meta = _imagefolder_with(tmp_path, [])
    _one_line_error(ValueError, lambda: read_records("imagefolder", str(local), "train", []),
                    tmp_path, "no images in split 'train'")
    _one_line_error(ValueError, lambda: read_records("coco", str(local), "train", []),
                    "'coco'", "imagefolder, karpathy, flickr")


def test_bad_karpathy_entries_are_named_by_index(tmp_path):
    local = _write(tmp_path, "karpathy")
    path = tmp_path / "dataset_coco.json"
    data = json.loads(path.read_text())

    def fails(change, error, *parts):
        copy = json.loads(json.dumps(data))
        change(copy["images"])
        path.write_text(json.dumps(copy, indent=1))
        _one_line_error(error, lambda: read_records("karpathy", str(local), "train", []),
                        path, *parts)

    fails(lambda im: im[1].update(sentences=[{"raw": " "}]), ValueError, "images[1]",
          "no (non-empty) caption")
    fails(lambda im: im[1].pop("filename"), ValueError, "images[1]", "'filename'")
    fails(lambda im: im[0].update(filename="gone.jpg"), FileNotFoundError, "images[0]",
          "gone.jpg")
    fails(lambda im: im[1]["sentences"].append({"tokens": ["x"]}), ValueError,
          "images[1]: sentences[2]", "'raw'")
    path.write_text('{"images": [\n  {"filename": "a.jpg",}\n]}')
    _one_line_error(ValueError, lambda: read_records("karpathy", str(local), "train", []),
                    f"{path}:2", "not JSON")
    path.write_bytes(b'{"images": [\n\n {"filename": "\xff"}]}')
    _one_line_error(ValueError, lambda: read_records("karpathy", str(local), "train", []),
                    f"{path}:3", "invalid UTF-8")
    path.write_text(json.dumps(data))
    _one_line_error(ValueError, lambda: read_records("karpathy", str(local), "test", []),
                    "no images in split 'test'")
    _one_line_error(ValueError, lambda: read_records("karpathy", str(local), "valid", []),
                    "'valid'", "train, dev")
    (tmp_path / "dataset_flickr8k.json").write_text("{}")
    _one_line_error(FileNotFoundError, lambda: read_records("karpathy", str(local), "train",
                                                            []), tmp_path, "found 2")


def test_bad_flickr_input_is_named(tmp_path):
    local = _write(tmp_path, "flickr")
    captions = tmp_path / "captions.txt"
    good = captions.read_text()
    lists = tmp_path / "Flickr_8k.devImages.txt"

    def fails(error, *parts, split="train"):
        _one_line_error(error, lambda: read_records("flickr", str(local), split, []), *parts)

    captions.write_text(good + "no-comma-here\n")
    fails(ValueError, f"{captions}:8", "image,caption")
    captions.write_text(good.replace("image,caption", "img,text"))
    fails(ValueError, f"{captions}:1", "header")
    captions.write_text(good)
    lists.write_text("c.jpg\nz.jpg\n")  # listed, never captioned
    fails(ValueError, f"{lists}:2", "z.jpg", split="dev")
    lists.unlink()
    fails(FileNotFoundError, lists, split="dev")
    (tmp_path / "Images" / "b.png").unlink()
    fails(FileNotFoundError, f"{captions}:4", "b.png")
    captions.write_text(good.replace("Two cats.", "  ").replace("Cats sleeping", ""))
    fails(ValueError, f"{captions}:4", "no (non-empty) caption")


def test_unreadable_images_and_frames_are_named(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image at all")
    _one_line_error(ValueError, lambda: load_image(bad, 4, 4, 3), bad, "not a readable image")
    truncated = _image(tmp_path / "t.png", size=(64, 64))
    truncated.write_bytes(truncated.read_bytes()[:60])
    _one_line_error(ValueError, lambda: load_image(truncated, 4, 4, 3), "not a readable image")
    _one_line_error(FileNotFoundError, lambda: load_image(tmp_path / "no.png", 4, 4, 3), "no.png")
    _one_line_error(ValueError, lambda: load_image(truncated, 4, 4, 2), "channels=2")
    np.save(tmp_path / "v.npy", np.full((2, 3, 3), 2.0))
    _one_line_error(ValueError, lambda: load_frames(tmp_path / "v.npy", 3, 3, 1), "[0, 1]")
    np.save(tmp_path / "v.npy", np.zeros((2, 3), np.uint8))
    _one_line_error(ValueError, lambda: load_frames(tmp_path / "v.npy", 3, 3, 1), "(2, 3)")
    (tmp_path / "empty").mkdir()
    _one_line_error(ValueError, lambda: load_frames(tmp_path / "empty", 3, 3, 1), "no frame")
    bad.rename(tmp_path / "junk.npy")
    _one_line_error(ValueError, lambda: load_frames(tmp_path / "junk.npy", 3, 3, 1), "junk.npy")


def test_kaggle_captions_with_unquoted_commas_and_a_byte_order_mark(tmp_path):
    _write(tmp_path, "flickr")
    (tmp_path / "captions.txt").write_text(
        "\ufeffimage,caption\na.jpg,A dog, brown, runs .\nb.png,\"Cats, \"\"two\"\"\"\n")
    (tmp_path / "Flickr_8k.trainImages.txt").write_text("a.jpg\nb.png\n\n")
    got = read_records("flickr", str(tmp_path), "train", [], image_root=str(tmp_path / "Images"))
    assert [r.captions for r in got] == [["A dog, brown, runs ."], ['Cats, "two"']]
