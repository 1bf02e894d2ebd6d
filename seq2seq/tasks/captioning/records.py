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
A "video" is a .npy array of frames or a folder of frame images (read by
`seq2seq/tasks/captioning/images.py`). Bad input stops with one line naming the file and line, as in
`labelled.py`.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from seq2seq.config.schema import CorpusConfig
from seq2seq.data.textfile import json_lines, read_lines

FORMATS = ("imagefolder", "karpathy", "flickr")


@dataclass
class CaptionDataConfig(CorpusConfig):
    """Captioned images (or videos: a .npy of frames, or a folder of them) under
    data.local_dir, in one of the formats above."""
    # imagefolder (f"{local_dir}/{split}/metadata.jsonl" with file_name and caption columns)
    # | karpathy (dataset_coco.json ...) | flickr (captions.txt or Flickr8k.token.txt, with
    # the Flickr_8k.*Images.txt splits)
    caption_format: str = "imagefolder"
    caption_columns: list[str] = field(default_factory=lambda: ["caption"])  # references
    image_root: Optional[str] = None  # where karpathy's and flickr's images are
    # The saved transform: every image (and frame) resized to height x width, kept as uint8;
    # channels 1 (grey) or 3 (RGB, transparency on white). The backbone normalises.
    image_height: int = 32  # pixels
    image_width: int = 32  # pixels
    image_channels: int = 3  # 1 | 3
    # Training images (every frame of a video alike) moved by up to N pixels at random, the
    # edge repeated: torchvision's RandomCrop(padding=N, padding_mode="edge"). 0: none.
    augment_shift: int = 0
    # Training images changed at random by torchvision's transforms (the vision extra;
    # seq2seq/tasks/captioning/augment.py), each 0 (off) by default. Brightness and
    # contrast each multiplied by a factor in [1-j, 1+j]
    augment_jitter: float = 0.0
    augment_saturation: float = 0.0  # saturation multiplied by [1-s, 1+s]
    augment_hue: float = 0.0  # hue turned by up to h of the colour circle (<= 0.5)
    # rotated by up to r degrees (the uncovered corners take the image's background, its
    # top-left pixel)
    augment_rotate: float = 0.0
    augment_scale: float = 0.0  # zoomed by a factor in [1-s, 1+s], filled likewise
    augment_blur: float = 0.0  # a 3 x 3 Gaussian blur of sigma up to b pixels (>= 0.1)
    augment_grayscale: float = 0.0  # shown in grey (three equal channels) with probability p


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
