"""Builds this folder's train/dev/test files from the sdist of the PyPI package
vaderSentiment 3.3.2, which ships the movie-review snippets of Hutto & Gilbert (2014).

    pip download vaderSentiment==3.3.2 --no-deps --no-binary :all: -d /tmp/vader
    python data/sentiment-movies/build_from_vader.py /tmp/vader/vaderSentiment-3.3.2.tar.gz

Each snippet (a sentence from a Rotten Tomatoes review, Pang & Lee 2005) carries the mean of
human ratings from -4 to +4; above +0.5 is `pos`, below -0.5 `neg`, and the 562 in between
are left out. A seeded shuffle then splits the 10,043 kept into train (80%), dev (10%) and
test (10%). Files: `<split>.tsv.xz`, a header `text<TAB>label` then one snippet a line.
"""
from __future__ import annotations

import hashlib
import io
import lzma
import random
import sys
import tarfile
from pathlib import Path

SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
SNIPPETS = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
SEED, SHARES = 2014, {"train": 0.8, "dev": 0.1}


def snippets(sdist: Path) -> list[tuple[str, float]]:
    """(text, mean rating) of every snippet, in the file's order."""
    data = sdist.read_bytes()
    if hashlib.sha256(data).hexdigest() != SDIST_SHA256:
        sys.exit(f"{sdist}: not the vaderSentiment 3.3.2 sdist (sha256 differs)")
    with tarfile.open(fileobj=io.BytesIO(data)) as outer:
        inner = outer.extractfile(INNER).read()
    with tarfile.open(fileobj=io.BytesIO(inner)) as tar:
        lines = tar.extractfile(SNIPPETS).read().decode("utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line.strip()]
    return [(text.strip(), float(rating)) for _, rating, text in rows]


def main(sdist: Path) -> None:
    kept = [(text, "pos" if rating > 0.5 else "neg") for text, rating in snippets(sdist)
            if abs(rating) > 0.5]
    random.Random(SEED).shuffle(kept)
    n_train, n_dev = (round(share * len(kept)) for share in SHARES.values())
    splits = {"train": kept[:n_train], "dev": kept[n_train:n_train + n_dev],
              "test": kept[n_train + n_dev:]}
    here = Path(__file__).parent
    for name, rows in splits.items():
        text = "text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in rows)
        (here / f"{name}.tsv.xz").write_bytes(lzma.compress(text.encode("utf-8"), preset=9))
        pos = sum(label == "pos" for _, label in rows)
        print(f"{name}: {len(rows)} snippets, {pos} pos, {len(rows) - pos} neg")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
