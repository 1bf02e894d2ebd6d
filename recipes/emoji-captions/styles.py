"""The bundle's emoji drawn by other artists (issue 30): each style's SVGs, read from its npm
tarball as it is, rendered at 64 px with cairosvg and then exactly as the Noto images are
(composited on white, Pillow LANCZOS to 32 x 32), one image per line of emoji.jsonl that
the style draws.

    curl -sLO https://registry.npmjs.org/openmoji/-/openmoji-17.0.0.tgz
    python recipes/emoji-captions/styles.py build openmoji openmoji-17.0.0.tgz data/emoji-captions

    style     npm package                        licence        found by
    openmoji  openmoji 17.0.0                    CC BY-SA 4.0   code points (color/svg/<CP>.svg)
    fluent    @iconify-json/fluent-emoji-flat    MIT            code points (chars.json)
              1.2.6 (Microsoft Fluent Emoji, flat)
    blob      @iconify-json/noto-v1 1.2.5        Apache-2.0     CLDR name ("woman-bowing-light-
              (Noto's blob emoji, before 2017)                   skin-tone"), a caption's slug

    python recipes/emoji-captions/styles.py export data/emoji-captions OUT \
        --styles noto,openmoji,fluent [--test-styles blob]

build writes styles/<style>.npz (`images` uint8 (n, 32, 32, 3); `rows` int32 (n,), the
line of emoji.jsonl each draws, so every style keeps the bundle's split: a test emoji is a
test emoji in every style) and the style's entry in styles/BUILD.json (package, URL,
tarball and pixel sha256, counts per split, tool versions). Rebuilding gives the same bytes.

export writes imagefolder splits OUT/{train,dev,test}/<style>/<file_name> with one
metadata.jsonl per split: train and dev from --styles, test from --test-styles (default:
the same), for training across styles and testing on one never seen ("noto" is the
bundle's own images); --in-style STYLE adds OUT/in-style/, the test emoji drawn in STYLE.

    python recipes/emoji-captions/styles.py paths OUT/in-style --refs refs.jsonl > list

paths prints a split folder's image paths (seq2seq-caption --input) and writes their
references.

Not used here: Twemoji (kept for evaluation by issue 30), proprietary sets, and npm
`@svgmoji/blob`, which ships no images (its sprites are fetched from a CDN at run time).
"""
from __future__ import annotations

import argparse
import io
import json
import re
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from build_data import SPLITS, read_bundle, sha256, to_rgb32

RENDER = 64  # pixels, the size of the Noto PNGs the bundle was made from
IN_STYLE = "in-style"  # export's extra folder: test emoji in a style training saw
STYLES = {"openmoji": "openmoji", "fluent": "@iconify-json/fluent-emoji-flat",
          "blob": "@iconify-json/noto-v1"}


def code_points(name: str) -> str:
    """"1f469-1f3fd-200d-1f692.png" or "1F469-1F3FD-200D-1F692" -> the code points without
    variation selectors (FE0F), which packages keep or drop at will."""
    points = re.sub(r"\.(png|svg)$", "", name).upper().split("-")
    return "-".join(p for p in points if p != "FE0F")


def slug(caption: str) -> str:
    """"woman bowing: light skin tone" -> "woman-bowing-light-skin-tone" (iconify's names)."""
    return re.sub(r"[^a-z0-9]+", "-", caption.lower()).strip("-")


def openmoji_svgs(tar: tarfile.TarFile, records: list[dict]) -> dict[int, bytes]:
    """{row: SVG} by code points from package/color/svg/."""
    files = {code_points(m.name.rsplit("/", 1)[1]): m for m in tar.getmembers()
             if m.name.startswith("package/color/svg/") and m.isfile()}
    return {row: tar.extractfile(files[cp]).read() for row, r in enumerate(records)
            if (cp := code_points(r["file_name"])) in files}


def iconify_svgs(tar: tarfile.TarFile, records: list[dict], by_name: bool) -> dict[int, bytes]:
    """{row: SVG} from an iconify set (icons.json: inner SVG bodies on one view box), its
    icon found by code points (chars.json) or by the slug of one of the emoji's captions."""
    data = json.load(tar.extractfile("package/icons.json"))
    icons = {**{alias: data["icons"][a["parent"]] for alias, a in data.get("aliases", {}).items()
                if a.get("parent") in data["icons"] and len(a) == 1}, **data["icons"]}
    chars = {code_points(k): v for k, v in json.load(
        tar.extractfile("package/chars.json")).items()}
    box = f'0 0 {data.get("width", 16)} {data.get("height", 16)}'
    out = {}
    for row, record in enumerate(records):
        names = ([slug(c) for c in record["captions"]] if by_name else
                 [chars.get(code_points(record["file_name"]))])
        name = next((n for n in names if n in icons), None)
        if name is not None:
            out[row] = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{box}">'
                        f'{icons[name]["body"]}</svg>').encode()
    return out


def cairosvg_version() -> str:
    import cairosvg
    return cairosvg.__version__


def render(svg: bytes) -> np.ndarray:
    """An SVG at RENDER px, then as the bundle's PNGs: (32, 32, 3) uint8."""
    import cairosvg  # the recipe's build tool (pip install cairosvg): needed to rebuild only
    return to_rgb32(cairosvg.svg2png(bytestring=svg, output_width=RENDER,
                                     output_height=RENDER))


def build(style: str, tgz: Path, bundle_dir: Path) -> dict:
    """styles/<style>.npz and its entry in styles/BUILD.json; returns the entry."""
    _, records = read_bundle(bundle_dir)
    with tarfile.open(tgz, "r:gz") as tar:
        package = json.load(tar.extractfile("package/package.json"))
        if package["name"] != STYLES[style]:
            raise ValueError(f"{tgz}: {package['name']}, not {STYLES[style]} ({style})")
        svgs = (openmoji_svgs(tar, records) if style == "openmoji" else
                iconify_svgs(tar, records, by_name=style == "blob"))
    rows = np.array(sorted(svgs), np.int32)
    images = np.stack([render(svgs[row]) for row in rows.tolist()])
    out = bundle_dir / "styles"
    out.mkdir(exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=images, rows=rows)
    (out / f"{style}.npz").write_bytes(buffer.getvalue())
    counts = Counter(records[row]["split"] for row in rows.tolist())
    entry = {"package": package["name"], "version": package["version"],
             "license": package.get("license"),
             "url": f"https://registry.npmjs.org/{package['name']}/-/{tgz.name}",
             "tarball_sha256": sha256(tgz.read_bytes()), "render_px": RENDER,
             "counts": {split: counts[split] for split in SPLITS},
             "images_sha256": sha256(images.tobytes()),
             "file_sha256": sha256(buffer.getvalue()),
             "cairosvg": cairosvg_version(), "pillow": Image.__version__, "numpy": np.__version__}
    info_path = out / "BUILD.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    info[style] = entry
    info_path.write_text(json.dumps(dict(sorted(info.items())), indent=1) + "\n")
    return entry


def read_style(bundle_dir: Path, style: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 32, 32, 3) uint8, rows (n,)) of a style; "noto" is the bundle's own."""
    if style == "noto":
        images, records = read_bundle(bundle_dir)
        return images, np.arange(len(records), dtype=np.int32)
    with np.load(bundle_dir / "styles" / f"{style}.npz") as npz:
        return npz["images"], npz["rows"]


def destinations(split: str, style: str, styles: list[str], test_styles: list[str],
                 in_style: str | None) -> list[str]:
    """The folders an image of `style` in `split` goes to: train and dev of the training
    styles; test of the test styles; in-style: the test emoji drawn in one training style."""
    if split != "test":
        return [split] if style in styles else []
    return [d for d, keep in (("test", style in test_styles), (IN_STYLE, style == in_style))
            if keep]


def export(bundle_dir: Path, out_dir: Path, styles: list[str],
           test_styles: list[str] | None = None, in_style: str | None = None
           ) -> dict[str, int]:
    """Imagefolder splits of several styles (above); returns {split: images}."""
    _, records = read_bundle(bundle_dir)
    test_styles = test_styles or styles
    folders = SPLITS + ((IN_STYLE,) if in_style else ())
    lines: dict[str, list[str]] = {folder: [] for folder in folders}
    for style in dict.fromkeys(styles + test_styles + [in_style] * bool(in_style)):
        images, rows = read_style(bundle_dir, style)  # each style read once
        for image, row in zip(images, rows.tolist()):
            name = f"{style}/{records[row]['file_name']}"
            for folder in destinations(records[row]["split"], style, styles, test_styles,
                                       in_style):
                (out_dir / folder / style).mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(out_dir / folder / name)
                lines[folder].append(json.dumps({"file_name": name, "style": style,
                                                 "captions": records[row]["captions"]},
                                                ensure_ascii=False) + "\n")
    for folder in folders:
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
        (out_dir / folder / "metadata.jsonl").write_text("".join(lines[folder]),
                                                         encoding="utf-8")
    return {folder: len(lines[folder]) for folder in folders}


def paths(folder: Path, refs: Path) -> list[str]:
    """An imagefolder split -> its image paths (seq2seq-caption --input), and its references
    written to `refs` (one JSON list a line, the same order)."""
    lines = (folder / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    refs.write_text("".join(json.dumps(r["captions"], ensure_ascii=False) + "\n"
                            for r in records), encoding="utf-8")
    return [str(folder / r["file_name"]) for r in records]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="npm tarball -> styles/STYLE.npz")
    build_cmd.add_argument("style", choices=sorted(STYLES))
    build_cmd.add_argument("tgz", type=Path)
    build_cmd.add_argument("bundle_dir", type=Path)
    export_cmd = commands.add_parser("export", help="styles -> imagefolder train/dev/test")
    export_cmd.add_argument("bundle_dir", type=Path)
    export_cmd.add_argument("out_dir", type=Path)
    export_cmd.add_argument("--styles", required=True, help="comma-separated, e.g. noto,fluent")
    export_cmd.add_argument("--test-styles", help="the test split's (default: --styles)")
    export_cmd.add_argument("--in-style", help=f"also {IN_STYLE}/: this style's test emoji")
    paths_cmd = commands.add_parser("paths", help="a split folder -> image paths, references")
    paths_cmd.add_argument("folder", type=Path)
    paths_cmd.add_argument("--refs", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "build":
        entry = build(args.style, args.tgz, args.bundle_dir)
        print(f"{args.style}: {entry['package']} {entry['version']}: {entry['counts']}")
    elif args.command == "paths":
        print("\n".join(paths(args.folder, args.refs)))
    else:
        split = (lambda s: s.split(",") if s else None)
        print(export(args.bundle_dir, args.out_dir, split(args.styles), split(args.test_styles),
                     args.in_style))


if __name__ == "__main__":
    main()
