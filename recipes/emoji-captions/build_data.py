"""Builds the emoji-caption bundle (data/emoji-captions) from the npm package
`emoji-datasource-google`, and exports it as Hugging Face `imagefolder` splits.

    curl -sLO https://registry.npmjs.org/emoji-datasource-google/-/\
emoji-datasource-google-16.0.0.tgz
    python recipes/emoji-captions/build_data.py build \
        emoji-datasource-google-16.0.0.tgz data/emoji-captions
    python recipes/emoji-captions/build_data.py export data/emoji-captions data/emoji-captions/images

build: reads the tarball as it is (no extraction). Every emoji and skin-tone variation with
a Google (Noto) image becomes one 32x32 RGB image (the 64 px RGBA PNG composited on white,
then Pillow LANCZOS) and one line of emoji.jsonl, in emoji.json's order, each emoji followed
by its skin-tone variations:

    {"file_name": "1f469-1f3fd-200d-1f692.png", "split": "train", "base": "1F9D1-200D-1F692",
     "category": "People & Body", "modifiers": ["woman", "medium skin tone"],
     "captions": ["woman firefighter: medium skin tone", "female firefighter: medium skin tone"]}

Captions: the package's name lowercased (Unicode character names for single code points,
e.g. "father christmas", and CLDR-like names for sequences), with skin tones composed as
Unicode does ("waving hand: medium-dark skin tone", "people holding hands: light skin tone,
dark skin tone"); then the short names, "_" and "-" made spaces, toned the same way,
deduplicated. The package has no keywords field.

Split (seed SEED): test (~10%) and dev (~5%) hold only variants (skin-tone variations, and
man/woman forms of a gender-neutral emoji), and only those whose base, modifiers ("woman",
"medium skin tone") and first-caption words all still occur in train and whose image no
other emoji shares pixel for pixel; base emoji always stay in train.

export: BUNDLE_DIR -> OUT_DIR/{train,dev,test}/ with metadata.jsonl ({"file_name",
"captions"}) and the 32x32 RGB PNGs beside it.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import re
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

SEED = 20240
SIZE = 32
SHARES = {"test": 0.10, "dev": 0.05}
SPLITS = ("train", "dev", "test")
IMAGE_DIR = "package/img/google/64/"
TONES = {"1F3FB": "light skin tone", "1F3FC": "medium-light skin tone",
         "1F3FD": "medium skin tone", "1F3FE": "medium-dark skin tone",
         "1F3FF": "dark skin tone"}
GENDER_SIGNS = {"-200D-2640-FE0F": "woman", "-200D-2642-FE0F": "man"}
GENDER_LEADS = {"1F469-200D-": "woman", "1F468-200D-": "man"}
NEUTRAL_LEAD = "1F9D1-200D-"


@dataclass
class Item:
    """One image of the bundle and what the split needs to know about it."""
    unified: str
    captions: list[str]
    base: str
    category: str
    modifiers: list[str] = field(default_factory=list)
    image: str = ""  # the PNG's name in the package
    split: str = "train"

    def record(self) -> dict:
        return {"file_name": self.unified.lower() + ".png", "captions": self.captions,
                "split": self.split, "base": self.base, "category": self.category,
                "modifiers": self.modifiers}


def caption_words(caption: str) -> list[str]:
    """The words of a caption: runs of characters other than space, ':' and ','."""
    return re.findall(r"[^\s:,]+", caption)


def with_tones(name: str, tone_key: str | None) -> str:
    """`name` with the skin tones of `tone_key` ("1F3FD" or "1F3FB-1F3FF") as Unicode
    composes them; two equal tones are named once."""
    if not tone_key:
        return name
    tones = list(dict.fromkeys(TONES[code] for code in tone_key.split("-")))
    return name + (", " if ":" in name else ": ") + ", ".join(tones)


def make_captions(entry: dict, tone_key: str | None = None, by_short_name: bool = False
                  ) -> list[str]:
    """The name (or, `by_short_name`, the first short name), then the short names with '_'
    and '-' made spaces, deduplicated."""
    shorts = [re.sub(r"[_-]", " ", s).lower() for s in entry["short_names"]]
    first = shorts[0] if by_short_name else entry["name"].lower()
    return list(dict.fromkeys(with_tones(c, tone_key) for c in [first] + shorts))


def gender_base(unified: str, known: set[str]) -> tuple[str, list[str]]:
    """(the gender-neutral emoji of a man/woman form, ["man"] or ["woman"]), or
    (`unified`, []) when it is not such a form or the neutral emoji does not exist."""
    neutral, genders = unified, []
    for sign, gender in GENDER_SIGNS.items():
        if sign in neutral:
            neutral, genders = neutral.replace(sign, ""), [gender]
    for lead, gender in GENDER_LEADS.items():
        if neutral.startswith(lead) and not genders:
            neutral, genders = NEUTRAL_LEAD + neutral[len(lead):], [gender]
    if neutral in known and neutral != unified:
        return neutral, genders
    return unified, []


def read_items(entries: list[dict]) -> list[Item]:
    """Every emoji and skin-tone variation with a Google image, each emoji followed by its
    variations."""
    known = {e["unified"] for e in entries if e["has_img_google"]}
    shared = {n for n, k in Counter(e["name"] for e in entries).items() if k > 1}
    items = []
    for entry in entries:
        base, genders = gender_base(entry["unified"], known)
        # 1F935 is named MAN IN TUXEDO like its man form: the neutral one goes by short name
        renamed = entry["name"] in shared and not genders
        if entry["has_img_google"]:
            items.append(Item(entry["unified"], make_captions(entry, None, renamed), base,
                              entry["category"], list(genders), entry["image"]))
        for tone_key, variant in (entry.get("skin_variations") or {}).items():
            if variant["has_img_google"]:
                tones = list(dict.fromkeys(TONES[c] for c in tone_key.split("-")))
                items.append(Item(variant["unified"], make_captions(entry, tone_key, renamed),
                                  base, entry["category"], genders + tones, variant["image"]))
    return items


def needs(item: Item) -> set[str]:
    """What a held-out item needs train to hold: its first caption's words, its modifiers."""
    return set(caption_words(item.captions[0])) | {"mod:" + m for m in item.modifiers}


def provides(item: Item) -> set[str]:
    """What a training item gives: the words of all its captions, its modifiers."""
    words = {w for c in item.captions for w in caption_words(c)}
    return words | {"mod:" + m for m in item.modifiers}


def pixel_twins(items: list[Item], images: np.ndarray) -> set[str]:
    """The items whose image another item shares pixel for pixel (e.g. snowboarder's skin
    tones, which Noto draws alike, or flags of territories that fly their country's)."""
    seen: dict[bytes, list[str]] = {}
    for item, image in zip(items, images):
        seen.setdefault(image.tobytes(), []).append(item.unified)
    return {u for group in seen.values() if len(group) > 1 for u in group}


def assign_splits(items: list[Item], seed: int = SEED, keep: frozenset[str] = frozenset()
                  ) -> None:
    """Sets `split` on held-out variants (see the module docstring); greedy in a seeded
    order, an item is held out only if train still covers it and everything held before.
    Items in `keep` (unified codes) stay in train."""
    in_train = Counter(t for item in items for t in provides(item))
    needed: set[str] = set()
    targets = {split: round(share * len(items)) for split, share in SHARES.items()}
    candidates = [item for item in items if item.unified != item.base and item.unified not in keep]
    random.Random(seed).shuffle(candidates)
    for item in candidates:
        split = next((s for s in ("test", "dev") if targets[s] > 0), None)
        if split is None:
            break
        gives = provides(item)
        after = {t: in_train[t] - (t in gives) for t in needs(item) | (gives & needed)}
        if min(after.values()) < 1:
            continue
        in_train.subtract(gives)
        needed |= needs(item)
        item.split, targets[split] = split, targets[split] - 1


def check_splits(items: list[Item]) -> None:
    """Asserts the split's promise: held-out items are variants whose base, modifiers and
    first-caption words all occur in train."""
    train = [item for item in items if item.split == "train"]
    train_words = {w for item in train for c in item.captions for w in caption_words(c)}
    train_units = {item.unified for item in train}
    train_mods = {m for item in train for m in item.modifiers}
    firsts = Counter(item.captions[0] for item in items)
    assert max(firsts.values()) == 1, firsts.most_common(3)
    for item in items:
        if item.split == "train":
            continue
        assert item.base in train_units and item.unified != item.base, item
        assert set(item.modifiers) <= train_mods, item
        missing = set(caption_words(item.captions[0])) - train_words
        assert not missing, (item.captions[0], missing)


def to_rgb32(png: bytes) -> np.ndarray:
    """A PNG composited on white, downsized to SIZE x SIZE with LANCZOS: (SIZE, SIZE, 3) uint8."""
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, image).convert("RGB")
    return np.asarray(rgb.resize((SIZE, SIZE), Image.Resampling.LANCZOS), dtype=np.uint8)


def read_tarball(tgz: Path) -> tuple[list[dict], dict, dict[str, bytes]]:
    """(emoji.json, package.json, {image name: PNG bytes}) in one pass over the tarball."""
    images: dict[str, bytes] = {}
    meta: dict[str, bytes] = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar:
            if member.name.startswith(IMAGE_DIR) and member.isfile():
                images[member.name[len(IMAGE_DIR):]] = tar.extractfile(member).read()
            elif member.name in ("package/emoji.json", "package/package.json"):
                meta[member.name] = tar.extractfile(member).read()
    return (json.loads(meta["package/emoji.json"]), json.loads(meta["package/package.json"]),
            images)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bundle(items: list[Item], images: np.ndarray, out_dir: Path) -> dict[str, str]:
    """emoji.npz and emoji.jsonl under `out_dir`; returns {file name: sha256}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_dir / "emoji.npz", images=images)
    lines = "".join(json.dumps(item.record(), ensure_ascii=False) + "\n" for item in items)
    (out_dir / "emoji.jsonl").write_text(lines, encoding="utf-8")
    return {name: sha256((out_dir / name).read_bytes()) for name in ("emoji.npz", "emoji.jsonl")}


def build(tgz: Path, out_dir: Path, seed: int = SEED) -> dict:
    """Reads the package, splits, writes the bundle and BUILD.json; returns BUILD.json."""
    entries, package, pngs = read_tarball(tgz)
    items = read_items(entries)
    images = np.stack([to_rgb32(pngs[item.image]) for item in items])
    assign_splits(items, seed, frozenset(pixel_twins(items, images)))
    check_splits(items)
    counts = Counter(item.split for item in items)
    info = {"package": package["name"], "version": package["version"],
            "url": f"https://registry.npmjs.org/{package['name']}/-/{tgz.name}",
            "tarball_sha256": sha256(tgz.read_bytes()), "seed": seed, "size": SIZE,
            "counts": {split: counts[split] for split in SPLITS},
            "images_sha256": sha256(images.tobytes()),  # the pixels, whatever the zip
            "files": write_bundle(items, images, out_dir),
            "pillow": Image.__version__, "numpy": np.__version__}
    (out_dir / "BUILD.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return info


def read_bundle(bundle_dir: Path) -> tuple[np.ndarray, list[dict]]:
    """(images (N, SIZE, SIZE, 3) uint8, the N records of emoji.jsonl)."""
    with np.load(bundle_dir / "emoji.npz") as npz:
        images = npz["images"]
    lines = (bundle_dir / "emoji.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == len(images), (len(records), images.shape)
    return images, records


def export(bundle_dir: Path, out_dir: Path) -> dict[str, int]:
    """OUT_DIR/{train,dev,test}/ imagefolder splits; returns {split: images}."""
    images, records = read_bundle(bundle_dir)
    counts = {}
    for split in SPLITS:
        folder = out_dir / split
        folder.mkdir(parents=True, exist_ok=True)
        chosen = [i for i, r in enumerate(records) if r["split"] == split]
        with open(folder / "metadata.jsonl", "w", encoding="utf-8") as meta:
            for i in chosen:
                record = {"file_name": records[i]["file_name"], "captions": records[i]["captions"]}
                meta.write(json.dumps(record, ensure_ascii=False) + "\n")
                Image.fromarray(images[i]).save(folder / records[i]["file_name"])
        counts[split] = len(chosen)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build",
                                    help="npm tarball -> emoji.npz, emoji.jsonl, BUILD.json")
    build_cmd.add_argument("tgz", type=Path)
    build_cmd.add_argument("out_dir", type=Path)
    export_cmd = commands.add_parser("export", help="bundle -> imagefolder train/dev/test")
    export_cmd.add_argument("bundle_dir", type=Path)
    export_cmd.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "build":
        info = build(args.tgz, args.out_dir)
        print(f"{info['package']} {info['version']}: {info['counts']}")
    else:
        print(export(args.bundle_dir, args.out_dir))


if __name__ == "__main__":
    main()
