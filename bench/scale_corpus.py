"""An N-pair corpus from the bundled verses, for measuring the toolkit at the paper's scale.

    python bench/scale_corpus.py 4000000 /tmp/scale-4M

Pair i is bundled training pair i mod 27k with its copy number i // 27k appended to both
sides ("... 17"), so the corpus is real text of the paper's size without being 150 copies of
one sentence set; dev and test (with the extra reference) are the bundled ones, unchanged.
"""
from __future__ import annotations

import argparse
import time
from itertools import count
from pathlib import Path

from seq2seq.data.corpus import REPO_ROOT
from seq2seq.data.textfile import read_lines

BUNDLED = REPO_ROOT / "data" / "bible-es-en"


def build(n_pairs: int, out: Path, langs: tuple[str, str] = ("es", "en")) -> Path:
    """Writes out/{train,dev,test}.{es,en}; reused when it already holds n_pairs pairs."""
    done = out / f".built-{n_pairs}"
    if done.is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for path in [*BUNDLED.glob("dev.*.xz"), *BUNDLED.glob("test.*.xz")]:  # extra refs too
        (out / path.stem).write_text("".join(line + "\n" for line in read_lines(path)))
    for lang in langs:
        verses = list(read_lines(BUNDLED / f"train.{lang}.xz"))
        with open(out / f"train.{lang}", "w", encoding="utf-8", buffering=1 << 20) as f:
            written = 0
            for copy in count():
                take = min(len(verses), n_pairs - written)
                if take <= 0:
                    break
                suffix = f" {copy}\n"
                f.write("".join(v + suffix for v in verses[:take]))
                written += take
    done.touch()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pairs", type=int, help="training pairs (e.g. 1000000, 12000000)")
    p.add_argument("out", type=Path, help="directory for train/dev/test.{es,en}")
    args = p.parse_args()
    start = time.monotonic()
    build(args.pairs, args.out)
    print(f"{args.out}: {args.pairs} pairs in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
