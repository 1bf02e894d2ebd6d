"""data/emoji-captions and recipes/emoji-captions: the bundle exports to imagefolder splits
whose held-out captions are new combinations of seen words, and the nearest-neighbour
baseline finds what it should."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import recipe_module

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "data" / "emoji-captions"
RECIPE = REPO / "recipes" / "emoji-captions"
SPLITS = ("train", "dev", "test")


build_data = recipe_module("emoji-captions", "build_data")
nearest = recipe_module("emoji-captions", "nearest")


def words(caption: str) -> set[str]:
    return set(re.split(r"[\s:,]+", caption)) - {""}


def read_meta(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]


def write_folder(folder: Path, images: list[np.ndarray], captions: list[list[str]]) -> None:
    folder.mkdir(parents=True)
    with open(folder / "metadata.jsonl", "w", encoding="utf-8") as meta:
        for i, (image, caps) in enumerate(zip(images, captions)):
            Image.fromarray(image).save(folder / f"{i}.png")
            meta.write(json.dumps({"file_name": f"{i}.png", "captions": caps}) + "\n")


def run_nearest(train: Path, test: Path, *extra: str) -> list[str]:
    done = subprocess.run([sys.executable, str(RECIPE / "nearest.py"), str(train), str(test),
                           *extra], capture_output=True, text=True, encoding="utf-8",
                          timeout=120, check=True)
    return done.stdout.splitlines()


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("emoji") / "data"
    build_data.export(BUNDLE, out)
    return out


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [json.loads(line) for line in (BUNDLE / "emoji.jsonl").read_text().splitlines()]


def test_export_writes_three_splits_of_32px_rgb_pngs(exported):
    counts = json.loads((BUNDLE / "BUILD.json").read_text())["counts"]
    for split in SPLITS:
        meta = read_meta(exported / split)
        assert len(meta) == counts[split] == len(list((exported / split).glob("*.png")))
        assert all(meta_line["captions"] for meta_line in meta)
        with Image.open(exported / split / meta[0]["file_name"]) as image:
            assert (image.mode, image.size) == ("RGB", (32, 32))
    assert counts["test"] > 300 and counts["dev"] > 150 and counts["train"] > 3000


def test_every_held_out_word_is_seen_in_training(exported):
    seen = {w for m in read_meta(exported / "train") for c in m["captions"] for w in words(c)}
    for split in ("dev", "test"):
        for meta in read_meta(exported / split):
            assert words(meta["captions"][0]) <= seen, meta
    train_firsts = {m["captions"][0] for m in read_meta(exported / "train")}
    assert not train_firsts & {m["captions"][0] for m in read_meta(exported / "test")}


def test_held_out_images_are_variants_of_training_bases(records):
    train = {r["file_name"] for r in records if r["split"] == "train"}
    held = [r for r in records if r["split"] != "train"]
    for r in held:
        assert r["base"].lower() + ".png" in train and r["file_name"] != r["base"].lower() + ".png"
    assert any("skin tone" in r["captions"][0] for r in held)
    assert any(r["captions"][0].startswith(("man ", "woman ")) and "tone" not in r["captions"][0]
               for r in held)


def test_captions_compose_skin_tones_like_unicode():
    entry = {"name": "PEOPLE HOLDING HANDS", "short_names": ["people_holding_hands"]}
    assert build_data.make_captions(entry, "1F3FB-1F3FF") == [
        "people holding hands: light skin tone, dark skin tone"]
    assert build_data.make_captions(entry, "1F3FE-1F3FE") == [
        "people holding hands: medium-dark skin tone"]
    kiss = {"name": "KISS: WOMAN, MAN", "short_names": ["woman-kiss-man"]}
    assert build_data.make_captions(kiss, "1F3FD") == [
        "kiss: woman, man, medium skin tone", "woman kiss man: medium skin tone"]


def test_nearest_returns_a_training_images_own_caption(exported, tmp_path):
    train_meta = read_meta(exported / "train")
    pixels = [np.asarray(Image.open(exported / "train" / m["file_name"])) for m in train_meta]
    flat = np.stack(pixels).reshape(len(pixels), -1)
    _, first, count = np.unique(flat, axis=0, return_index=True, return_counts=True)
    unique = sorted(first[count == 1])[::97][:25]  # spread over the split, no pixel twins
    write_folder(tmp_path / "query", [pixels[i] for i in unique],
                 [train_meta[i]["captions"] for i in unique])
    hyps = run_nearest(exported / "train", tmp_path / "query")
    assert hyps == [train_meta[i]["captions"][0] for i in unique]


def test_nearest_agrees_with_brute_force_on_real_test_images(exported):
    train, _ = nearest.read_split(exported / "train")
    test, _ = nearest.read_split(exported / "test")
    picks = nearest.nearest_indices(train, test[:12], chunk=5)
    ints = train.astype(np.int64)
    for row, pick in zip(test[:12].astype(np.int64), picks):
        assert pick == int(((ints - row) ** 2).sum(axis=1).argmin())


def test_nearest_picks_the_obvious_neighbour_and_writes_refs(tmp_path):
    colours = {"black square": (0, 0, 0), "white square": (255, 255, 255),
               "red square": (255, 0, 0), "blue square": (0, 0, 255)}
    solid = [np.full((32, 32, 3), rgb, dtype=np.uint8) for rgb in colours.values()]
    write_folder(tmp_path / "train", solid, [[name, "other"] for name in colours])
    queries = [np.full((32, 32, 3), rgb, dtype=np.uint8)
               for rgb in ((230, 20, 10), (10, 10, 40), (20, 10, 220), (200, 200, 210))]
    refs = [["reddish"], ["blackish", "dark"], ["bluish"], ["whitish"]]
    write_folder(tmp_path / "test", queries, refs)
    hyps = run_nearest(tmp_path / "train", tmp_path / "test", "--refs",
                       str(tmp_path / "refs.jsonl"))
    assert hyps == ["red square", "black square", "blue square", "white square"]
    written = [json.loads(line) for line in (tmp_path / "refs.jsonl").read_text().splitlines()]
    assert written == refs
