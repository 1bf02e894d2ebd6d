"""Captioned images (or videos) on disk, the data of the `caption` task, in three layouts:

    imagefolder   <dir>/<split>/metadata.jsonl   {"file_name": "a.jpg", "caption": "..." | [...]}
                  <dir>/<split>/a.jpg            (Hugging Face's layout; any caption columns)
    karpathy      <dir>/dataset_coco.json        {"images": [{"filepath": "val2014",
                  (or that file itself)              "filename": "x.jpg", "split": "restval",
                                                     "sentences": [{"raw": "..."}, ...]}]}
                  <image_root or dir>/<filepath>/<filename>
    flickr        <dir>/captions.txt             image,caption  (Kaggle's CSV, a header line)
                  or <dir>/Flickr8k.token.txt    x.jpg#0<TAB>caption
                  <dir>/Flickr_8k.{train,dev,test}Images.txt   one image name a line
                  <image_root or dir/Images or dir/Flicker8k_Dataset>/x.jpg

Every layout reads into the same records: an image path, its reference captions (one line
each, duplicates dropped) and `where`, naming the file and line (or JSON index) that errors
name. A file that appears twice in a split is one record: Flickr gives five lines an image.
A "video" is a .npy array of frames or a folder of frame images. Bad input stops with one
line naming the file and line, as in `labelled.py`.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from seq2seq.textfile import json_lines, read_lines

FORMATS = ("imagefolder", "karpathy", "flickr")


@dataclass
class CaptionRecord:
    path: Path           # an image file, or a video: a .npy array of frames or a frame folder
    captions: list[str]  # one or more references, whitespace-normalised, none empty
    where: str           # "<metadata file>:<line>" or "<json file>: images[12]"


def read_records(fmt: str, local_dir: str, split: str, caption_columns: list[str],
                 image_root: Optional[str] = None) -> list[CaptionRecord]:
    """The records of one split, in the order their files first appear; every record has a
    caption and an image (or video) that exists."""
    if fmt == "imagefolder":
        records = _imagefolder(Path(local_dir), split, caption_columns or ["caption"])
    elif fmt == "karpathy":
        records = _karpathy(Path(local_dir), split, image_root)
    elif fmt == "flickr":
        records = _flickr(Path(local_dir), split, image_root)
    else:
        raise ValueError(f"unknown caption data format {fmt!r} (one of {', '.join(FORMATS)})")
    for record in records:
        if not record.captions:
            raise ValueError(f"{record.where}: {record.path.name}: no (non-empty) caption")
        if not record.path.exists():
            raise FileNotFoundError(f"{record.where}: {record.path}: no such image file")
    if not records:
        raise ValueError(f"{local_dir}: no images in split {split!r} ({fmt} layout)")
    return records


def _add(records: dict[Path, CaptionRecord], path: Path, captions: list[str], where: str):
    """Merge captions into the record of `path` (first appearance keeps its place and its
    `where`); whitespace made single spaces, empty and repeated captions dropped."""
    record = records.setdefault(path, CaptionRecord(path, [], where))
    for caption in captions:
        caption = " ".join(caption.split())
        if caption and caption not in record.captions:
            record.captions.append(caption)


def _imagefolder(directory: Path, split: str, columns: list[str]) -> list[CaptionRecord]:
    metadata = directory / split / "metadata.jsonl"
    if not metadata.is_file():
        raise FileNotFoundError(f"{metadata}: no such metadata file (imagefolder layout: "
                                "<dir>/<split>/metadata.jsonl, a JSON object a line)")
    records: dict[Path, CaptionRecord] = {}
    for where, row in json_lines(metadata, skip_blank=True):  # UTF-8 checked per line
        if not isinstance(row, dict) or not isinstance(row.get("file_name"), str):
            raise ValueError(f"{where}: no string 'file_name' (the image, relative to "
                             f"{metadata.parent})")
        captions = []
        for column in columns:
            if column not in row:
                raise ValueError(f"{where}: no caption column {column!r} "
                                 f"(keys: {', '.join(row)})")
            captions += _strings(row[column], f"{where}: {column!r}")
        _add(records, metadata.parent / row["file_name"], captions, where)
    return list(records.values())


def _strings(value: Any, what: str) -> list[str]:
    """A caption value: a string or a list of strings (several references)."""
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{what} is {json.dumps(value)[:80]}: a caption is a string or a "
                         "list of strings")
    return values


# Our split names -> Karpathy's: "restval" (COCO val2014 images outside his 5k val and 5k
# test) is training data in his split, as in Show and Tell; the raw names are accepted too.
KARPATHY_SPLITS = {"train": {"train", "restval"}, "dev": {"val"}, "val": {"val"},
                   "restval": {"restval"}, "test": {"test"}}


def _karpathy(local: Path, split: str, image_root: Optional[str]) -> list[CaptionRecord]:
    if split not in KARPATHY_SPLITS:
        raise ValueError(f"unknown karpathy split {split!r} (one of "
                         f"{', '.join(KARPATHY_SPLITS)})")
    path = _karpathy_file(local)
    images = _json_file(path).get("images")
    if not isinstance(images, list):
        raise ValueError(f"{path}: no 'images' list (Karpathy's dataset_*.json)")
    root = Path(image_root) if image_root else path.parent
    records: dict[Path, CaptionRecord] = {}
    for index, image in enumerate(images):
        where = f"{path}: images[{index}]"
        if not isinstance(image, dict) or not isinstance(image.get("filename"), str):
            raise ValueError(f"{where}: no string 'filename'")
        if image.get("split") not in KARPATHY_SPLITS[split]:
            continue
        sentences = image.get("sentences")
        if not isinstance(sentences, list):
            raise ValueError(f"{where}: no 'sentences' list")
        captions = []
        for number, sentence in enumerate(sentences):
            # "raw" keeps case and punctuation ("tokens" are lower-cased, without them)
            raw = sentence.get("raw") if isinstance(sentence, dict) else None
            if not isinstance(raw, str):
                raise ValueError(f"{where}: sentences[{number}] has no string 'raw'")
            captions.append(raw)
        _add(records, root / image.get("filepath", "") / image["filename"], captions, where)
    return list(records.values())


def _karpathy_file(local: Path) -> Path:
    """The JSON file itself, or the one dataset_*.json in a folder."""
    if local.is_file():
        return local
    found = sorted(local.glob("dataset_*.json")) if local.is_dir() else []
    if len(found) != 1:
        raise FileNotFoundError(f"{local}: expected a Karpathy dataset_*.json or a folder "
                                f"with exactly one (found {len(found)})")
    return found[0]


def _json_file(path: Path) -> dict:
    text = "\n".join(read_lines(path))  # invalid UTF-8 named by its line, as elsewhere
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}:1: not a JSON object with an 'images' list")
    return loaded


FLICKR_LISTS = {"train": "Flickr_8k.trainImages.txt", "dev": "Flickr_8k.devImages.txt",
                "val": "Flickr_8k.devImages.txt", "test": "Flickr_8k.testImages.txt"}


def _flickr(directory: Path, split: str, image_root: Optional[str]) -> list[CaptionRecord]:
    if split not in FLICKR_LISTS:
        raise ValueError(f"unknown flickr split {split!r} (one of {', '.join(FLICKR_LISTS)})")
    listed = directory / FLICKR_LISTS[split]
    if not listed.is_file():
        raise FileNotFoundError(f"{listed}: no such split list (the official Flickr8k "
                                "lists: one image name a line)")
    names: dict[str, str] = {}  # image name -> the list line that names it first
    for number, line in enumerate(read_lines(listed), start=1):
        if line.strip():
            names.setdefault(line.strip(), f"{listed}:{number}")
    root = Path(image_root) if image_root else _flickr_images(directory)
    records: dict[Path, CaptionRecord] = {}
    for name, caption, where in _flickr_captions(directory):
        if name in names:
            _add(records, root / name, [caption], where)
    for name, where in names.items():  # a listed image never captioned: name the list line
        if root / name not in records:
            raise ValueError(f"{where}: {name}: no (non-empty) caption in the captions file")
    return list(records.values())


def _flickr_images(directory: Path) -> Path:
    for name in ("Images", "Flicker8k_Dataset"):  # Kaggle's folder, the original archive's
        if (directory / name).is_dir():
            return directory / name
    raise FileNotFoundError(f"{directory}: no image folder Images/ nor Flicker8k_Dataset/ "
                            "(or give image_root)")


def _flickr_captions(directory: Path) -> list[tuple[str, str, str]]:
    """(image name, caption, where) of every line of captions.txt or Flickr8k.token.txt."""
    kaggle, token = directory / "captions.txt", directory / "Flickr8k.token.txt"
    rows = []
    if kaggle.is_file():
        lines = read_lines(kaggle)
        header = next(lines, "").lstrip("\ufeff")  # a byte-order mark from a spreadsheet
        if [c.strip() for c in next(csv.reader([header]), [])] != ["image", "caption"]:
            raise ValueError(f"{kaggle}:1: the header is not 'image,caption'")
        for number, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            row = next(csv.reader([line]))  # quoted captions may hold commas and quotes
            if len(row) < 2:
                raise ValueError(f"{kaggle}:{number}: not 'image,caption'")
            # an unquoted caption with commas splits into several fields: join them back
            rows.append((row[0].strip(), ",".join(row[1:]), f"{kaggle}:{number}"))
    elif token.is_file():
        for number, line in enumerate(read_lines(token), start=1):
            if not line.strip():
                continue
            name, tab, caption = line.partition("\t")
            if not tab:
                raise ValueError(f"{token}:{number}: not 'image#n<TAB>caption'")
            rows.append((name.rsplit("#", 1)[0].strip(), caption, f"{token}:{number}"))
    else:
        raise FileNotFoundError(f"{directory}: no captions.txt nor Flickr8k.token.txt")
    return rows


def is_video(path: Path) -> bool:
    """A video is an array of frames (.npy) or a folder of frame images."""
    return path.suffix.lower() == ".npy" or path.is_dir()


def load_image(path: Path, height: int, width: int, channels: int) -> np.ndarray:
    """uint8 (channels, height, width); channels 1 (grey, PIL 'L') or 3 (RGB; alpha
    composited on white). Resized with PIL bilinear only when the size differs."""
    if channels not in (1, 3):
        raise ValueError(f"channels={channels}: 1 (grey) or 3 (RGB)")
    Image = _pil()
    try:
        with Image.open(path) as image:
            image.load()  # decode now: a truncated file fails here, not later
            return _pixels(_eight_bits(image), height, width, channels)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such image file") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{path}: not a readable image ({_one_line(exc)})") from None


def load_frames(path: Path, height: int, width: int, channels: int) -> np.ndarray:
    """uint8 (T, channels, height, width): a .npy of shape (T, H, W) or (T, H, W, C), uint8
    or float in [0,1] (scaled by 255), or a folder of frame images sorted by name."""
    if channels not in (1, 3):
        raise ValueError(f"channels={channels}: 1 (grey) or 3 (RGB)")
    Image = _pil()
    if path.is_dir():
        known = set(Image.registered_extensions())
        # names sorted with digits by value, so frame_2 comes before frame_10
        files = sorted((f for f in path.iterdir() if f.suffix.lower() in known),
                       key=lambda f: [int(t) if t.isdigit() else t
                                      for t in re.split(r"(\d+)", f.name)])
        if not files:
            raise ValueError(f"{path}: no frame images in the folder")
        return np.stack([load_image(f, height, width, channels) for f in files])
    frames = _frame_array(path)
    # fromarray reads (H, W) as 'L', (H, W, 3) as 'RGB', (H, W, 4) as 'RGBA'
    return np.stack([_pixels(Image.fromarray(frame), height, width, channels)
                     for frame in frames])


def _frame_array(path: Path) -> np.ndarray:
    """A .npy's frames as uint8 (T, H, W, C), C 1, 3 or 4."""
    try:
        frames = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such frames file") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npy array ({_one_line(exc)})") from None
    if frames.ndim == 3:
        frames = frames[..., None]  # grey (T, H, W) -> (T, H, W, 1)
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3, 4) or len(frames) == 0:
        raise ValueError(f"{path}: frames of shape {frames.shape}, expected (T, H, W) or "
                         "(T, H, W, C) with T > 0 and C 1, 3 or 4")
    if np.issubdtype(frames.dtype, np.floating):
        if not ((frames >= 0) & (frames <= 1)).all():  # NaN fails both comparisons too
            raise ValueError(f"{path}: float frames outside [0, 1] (uint8 for 0..255)")
        frames = np.round(frames * 255).astype(np.uint8)
    elif frames.dtype != np.uint8:
        raise ValueError(f"{path}: frames of dtype {frames.dtype}, expected uint8 or float")
    return frames[..., 0] if frames.shape[-1] == 1 else frames  # PIL 'L' wants (H, W)


def _eight_bits(image: Any) -> Any:
    """A 16-bit, 32-bit integer or float grey image as 8-bit 'L' (or 'LA' where it names a
    transparent value); any other image as it is. Pillow's convert clips such values at
    255, so a 16-bit image would read as all white."""
    Image = _pil()
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not ((values >= 0) & (values <= 1)).all():  # NaN fails both comparisons too
            raise ValueError("float pixels outside [0, 1], the range seq2seq reads; "
                             "save it as 8- or 16-bit")
        return Image.fromarray(np.round(values * 255).astype(np.uint8))
    if image.mode != "I" and not image.mode.startswith("I;16"):
        return image
    values = np.asarray(image).astype(np.int64)  # any byte order, as plain numbers
    if values.min() < 0 or values.max() > 65535:
        # a 16-bit PNG or TIFF opens as 'I' too: its values are all a range can be taken from
        raise ValueError("32-bit pixels outside 0..65535, the range seq2seq reads; "
                         "save it as 8- or 16-bit")
    grey = Image.fromarray(((values + 128) // 257).astype(np.uint8))  # rounds v / 257
    transparent = image.info.get("transparency")
    if not isinstance(transparent, int):
        return grey
    # the transparent value is matched at 16 bits: at 8 bits it would catch its neighbours
    alpha = Image.fromarray(np.where(values == transparent, 0, 255).astype(np.uint8))
    return Image.merge("LA", (grey, alpha))


def _pixels(image: Any, height: int, width: int, channels: int) -> np.ndarray:
    """A PIL image as uint8 (channels, height, width)."""
    Image = _pil()
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # transparent pixels keep whatever colour they hold: white is what a viewer shows
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("task=caption reads images with Pillow: pip install "
                          "'seq2seq[caption]'") from None
    return Image


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
