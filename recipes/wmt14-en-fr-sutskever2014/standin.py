"""A local stand-in for `wmt14` `fr-en`, for `make smoke`: the hub's `translation` format
(one JSON object a line: {"translation": {"en": ..., "fr": ...}}) in train/validation/test
files, built from the bundled Bible corpus. The "fr" side is really its Spanish: the
stand-in checks the chain (hub loader, word vocabularies, the paper's model and search),
not French.

    python standin.py CORPUS_DIR OUT_DIR       (CORPUS_DIR: data/bible-es-en)
"""
import json
import lzma
import sys
from pathlib import Path

SIZES = {"train": 300, "validation": 20, "test": 20}
SOURCE_SPLIT = {"train": "train", "validation": "dev", "test": "test"}

CORPUS, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
for split, n in SIZES.items():
    def first(lang):
        with lzma.open(CORPUS / f"{SOURCE_SPLIT[split]}.{lang}.xz", "rt", encoding="utf-8") as f:
            return [next(f).rstrip("\n") for _ in range(n)]
    rows = [{"translation": {"en": en, "fr": es}} for en, es in zip(first("en"), first("es"))]
    (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
print(out)
