"""data/emoji-captions/styles and recipes/emoji-captions/styles.py: every style keeps the
bundle's split and its composition (each held-out emoji's base, modifiers and words are in
that style's training images), its files are what BUILD.json says, the export trains on
some styles and tests on another, and a build from a tarball is the same bytes twice (the
real tarballs need the network: rebuilding them is documented in data/emoji-captions)."""
from __future__ import annotations

import hashlib
import io
import json
import re
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from conftest import recipe_module

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "data" / "emoji-captions"
sys.path.insert(0, str(REPO / "recipes" / "emoji-captions"))  # styles.py imports build_data
styles = recipe_module("emoji-captions", "styles")
BUILD = json.loads((BUNDLE / "styles" / "BUILD.json").read_text())
RECORDS = [json.loads(line) for line in (BUNDLE / "emoji.jsonl").read_text().splitlines()]


def words(caption: str) -> set[str]:
    return set(re.split(r"[\s:,]+", caption)) - {""}


@pytest.mark.parametrize("style", sorted(BUILD))
def test_a_style_is_what_build_json_says_and_keeps_the_split(style):
    raw = (BUNDLE / "styles" / f"{style}.npz").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == BUILD[style]["file_sha256"]
    images, rows = styles.read_style(BUNDLE, style)
    assert images.dtype == np.uint8 and images.shape == (len(rows), 32, 32, 3)
    assert hashlib.sha256(images.tobytes()).hexdigest() == BUILD[style]["images_sha256"]
    assert rows.tolist() == sorted(set(rows.tolist())) and 0 <= rows[0] and rows[-1] < len(RECORDS)
    splits = [RECORDS[r]["split"] for r in rows.tolist()]
    assert {s: splits.count(s) for s in ("train", "dev", "test")} == BUILD[style]["counts"]
    train = [RECORDS[r] for r in rows.tolist() if RECORDS[r]["split"] == "train"]
    bases = {r["base"] for r in train}
    modifiers = {m for r in train for m in r["modifiers"]}
    vocabulary = set().union(*(words(r["captions"][0]) for r in train))
    for r in rows.tolist():
        if RECORDS[r]["split"] != "train":
            held = RECORDS[r]
            assert held["base"] in bases and set(held["modifiers"]) <= modifiers, held
            assert words(held["captions"][0]) <= vocabulary, held


def test_the_export_trains_on_some_styles_and_tests_on_another(tmp_path):
    counts = styles.export(BUNDLE, tmp_path, ["noto", "blob"], ["fluent"])
    meta = {split: [json.loads(line) for line in
                    (tmp_path / split / "metadata.jsonl").read_text().splitlines()]
            for split in ("train", "dev", "test")}
    assert {r["style"] for r in meta["train"]} == {"noto", "blob"}
    assert {r["style"] for r in meta["test"]} == {"fluent"}
    assert counts["test"] == BUILD["fluent"]["counts"]["test"]
    assert counts["train"] == 3218 + BUILD["blob"]["counts"]["train"]
    by_file = {r["file_name"]: r["captions"] for r in RECORDS}
    for record in meta["test"][:20] + meta["train"][-20:]:
        style, name = record["file_name"].split("/")
        assert record["captions"] == by_file[name] and record["style"] == style
        assert (tmp_path / ("test" if record in meta["test"] else "train") /
                record["file_name"]).is_file()


def test_in_style_holds_one_training_style_s_test_emoji_and_paths_list_them(tmp_path):
    counts = styles.export(BUNDLE, tmp_path, ["blob", "noto"], ["fluent"], in_style="blob")
    assert counts[styles.IN_STYLE] == BUILD["blob"]["counts"]["test"]
    assert counts["test"] == BUILD["fluent"]["counts"]["test"]
    folder = tmp_path / styles.IN_STYLE
    listed = styles.paths(folder, tmp_path / "refs.jsonl")
    refs = [json.loads(line) for line in (tmp_path / "refs.jsonl").read_text().splitlines()]
    assert len(listed) == len(refs) == counts[styles.IN_STYLE]
    by_file = {r["file_name"]: r for r in RECORDS}
    for path, captions in zip(listed, refs):
        style, name = Path(path).relative_to(folder).parts
        assert style == "blob" and Path(path).is_file()
        assert by_file[name]["split"] == "test" and by_file[name]["captions"] == captions
    # the held-out style's test split and the in-style folder are the same emoji set where
    # both styles draw them: one split, applied to every style
    held = {r["file_name"].split("/")[1] for r in
            map(json.loads, (tmp_path / "test" / "metadata.jsonl").read_text().splitlines())}
    assert held and {Path(p).name for p in listed} & held


def test_code_points_and_names_match_as_the_packages_write_them():
    assert styles.code_points("1f469-1f3fd-200d-1f692.png") == "1F469-1F3FD-200D-1F692"
    assert styles.code_points("0023-FE0F-20E3.svg") == styles.code_points("0023-20e3.png")
    assert styles.slug("woman bowing: light skin tone") == "woman-bowing-light-skin-tone"


def iconify_tarball(path: Path, name: str, icons: dict[str, str], chars: dict[str, str]) -> Path:
    files = {"package/package.json": {"name": name, "version": "0.0.1", "license": "MIT"},
             "package/icons.json": {"icons": {k: {"body": v} for k, v in icons.items()},
                                    "width": 32, "height": 32},
             "package/chars.json": chars}
    with tarfile.open(path, "w:gz") as tar:
        for member, content in files.items():
            data = json.dumps(content).encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_build_renders_what_the_package_draws_the_same_bytes_twice(tmp_path):
    pytest.importorskip("cairosvg", reason="rendering SVG needs cairosvg and libcairo")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name in ("emoji.jsonl", "emoji.npz"):
        (bundle / name).write_bytes((BUNDLE / name).read_bytes())
    red = '<rect x="4" y="4" width="24" height="24" fill="#f00"/>'
    tgz = iconify_tarball(tmp_path / "fluent-emoji-flat-0.0.1.tgz",
                          "@iconify-json/fluent-emoji-flat", {"red": red},
                          {RECORDS[5]["file_name"][:-4]: "red"})
    entry = styles.build("fluent", tgz, bundle)
    first = (bundle / "styles" / "fluent.npz").read_bytes()
    images, rows = styles.read_style(bundle, "fluent")
    assert rows.tolist() == [5] and entry["counts"]["train"] + entry["counts"]["test"] + \
        entry["counts"]["dev"] == 1
    assert tuple(images[0, 16, 16]) == (255, 0, 0) and tuple(images[0, 0, 0]) == (255, 255, 255)
    styles.build("fluent", tgz, bundle)
    assert (bundle / "styles" / "fluent.npz").read_bytes() == first
    with pytest.raises(ValueError, match="not openmoji"):
        styles.build("openmoji", tgz, bundle)


def fake_run(runs: Path, name: str, scores: dict[str, tuple[float, float]], config: dict,
             images: list[Path] = ()) -> None:
    t = runs / name / "translations"
    t.mkdir(parents=True)
    for split, (cider, exact) in scores.items():
        (t / f"{split}.json").write_text(json.dumps({"cider_d": cider, "exact": exact}))
    (t / "test.refs.jsonl").write_text("".join(f'["emoji {i}"]\n' for i in range(len(images))))
    (t / "test.src").write_text("".join(f"{p}\n" for p in images))
    (t / "test.hyp").write_text("".join(f"caption {i}\n" for i in range(len(images))))
    (t / "in-style.src").write_text(f"/x/in-style/noto/{len(images)}.png\n")
    if config:
        import yaml
        (runs / name / "config.yaml").write_text(yaml.safe_dump(config))
        (runs / name / "metrics.jsonl").write_text(
            '{"step": 9, "epoch": 2.5, "elapsed": 90.0, "train_loss": 1.0}\n'
            '{"step": 9, "epoch": 2.5, "elapsed": 95.0, "dev_cider_d": 1.0}\n')


def test_the_styles_table_puts_each_run_beside_its_nearest_neighbour(tmp_path):
    report = recipe_module("emoji-captions", "styles_report")
    model = {"decoder": {"attention": "dot"}, "encoder": {"cnn_width": 32}}
    data = {"augment_shift": 0, "augment_rotate": 10.0, "augment_hue": 0.0}
    fake_run(tmp_path, "blob-rotate", {"test": (4.0, 30.0), "in-style": (7.6, 78.0)},
             {"model": model, "data": data})
    fake_run(tmp_path, "openmoji-showtell", {"test": (1.0, 0.0)},
             {"model": {**model, "decoder": {"attention": "none"}}, "data": {}})
    fake_run(tmp_path, "nearest-blob", {"test": (2.9, 0.0), "in-style": (5.1, 0.0)}, {})
    rows = report.table(tmp_path).splitlines()
    assert rows[0] == report.HEADER.splitlines()[0] and len(rows) == 4
    assert rows[2].startswith("| openmoji (0) | Show and Tell | 1.000 (0.0) | - | - |")
    assert rows[3] == ("| blob (0) | attention, rotate 10 | 4.000 (30.0) | 2.900 (0.0) | +1.100 "
                       "| noto | 7.600 (78.0) | 5.100 (0.0) | 2.5 | 1.5 |")


def test_the_styles_sheet_shows_each_emoji_in_every_style_that_was_held_out(tmp_path):
    from PIL import Image
    report = recipe_module("emoji-captions", "styles_report")
    for style in ("noto", "blob"):
        folder = tmp_path / "images" / style
        folder.mkdir(parents=True)
        paths = [folder / f"{i}.png" for i in range(8)]
        for i, path in enumerate(paths):
            Image.new("RGB", (32, 32), (30 * i, 0, 0)).save(path)
        fake_run(tmp_path / "runs", f"{style}-none", {}, {}, paths[:8 if style == "noto" else 5])
    assert report.sheet(tmp_path / "runs", "none", 3, tmp_path / "sheet.png") == 3
    assert (tmp_path / "sheet.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SystemExit, match="no <style>-rotate run"):
        report.sheet(tmp_path / "runs", "rotate", 3, tmp_path / "x.png")
