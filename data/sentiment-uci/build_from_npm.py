"""Builds this folder's files from the npm package `sentiment` 5.0.2, whose test fixtures
are the UCI "Sentiment Labelled Sentences" (Kotzias et al. 2015): 1,000 sentences each from
Amazon product reviews, IMDB movie reviews and Yelp restaurant reviews, half positive.

    npm pack sentiment@5.0.2          # sentiment-5.0.2.tgz
    python data/sentiment-uci/build_from_npm.py sentiment-5.0.2.tgz

Files: `<source>.tsv.xz` (amazon, imdb, yelp), a header `text<TAB>label` then one sentence
a line, labels `pos` (1 in the fixtures) and `neg` (0), as the movie snippets'. Each fixture
ends with an empty entry without a class, which is left out.
"""
from __future__ import annotations

import hashlib
import io
import json
import lzma
import sys
import tarfile
from pathlib import Path

TARBALL_SHA256 = "89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f"
SOURCES = ("amazon", "imdb", "yelp")


def main(tarball: Path) -> None:
    data = tarball.read_bytes()
    if hashlib.sha256(data).hexdigest() != TARBALL_SHA256:
        sys.exit(f"{tarball}: not the sentiment 5.0.2 package (sha256 differs)")
    here = Path(__file__).parent
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for source in SOURCES:
            entries = json.load(tar.extractfile(f"package/test/fixtures/{source}.json"))
            rows = [(" ".join(e["text"].split()), "pos" if e["class"] == 1 else "neg")
                    for e in entries if e["class"] is not None]
            text = "text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in rows)
            (here / f"{source}.tsv.xz").write_bytes(lzma.compress(text.encode("utf-8"),
                                                                  preset=9))
            pos = sum(label == "pos" for _, label in rows)
            print(f"{source}: {len(rows)} sentences, {pos} pos, {len(rows) - pos} neg")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
