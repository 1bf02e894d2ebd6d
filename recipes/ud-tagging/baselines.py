"""Baselines for sequence labelling, the floor a tagger trained with seq2seq must clear:

    python recipes/ud-tagging/baselines.py --train data/ud-english-ewt/train.conllu.xz \\
        --dev data/ud-english-ewt/dev.conllu.xz --test data/ud-english-ewt/test.conllu.xz \\
        --column upos --json runs/baselines-upos.json

majority: each word gets the tag it had most often in training (looked up as written, then
lowercased); a word training never saw gets the most frequent training tag. logreg: a
feature-based logistic regression per token (the word lowercased, its prefixes and
suffixes of 1-4 characters, its shape "Xxxx" / "dd" and capitalisation, hyphen and digit
flags, and the words and suffixes of its two neighbours each side; scikit-learn's
DictVectorizer and LogisticRegression, L2, C=--c). Files are read as training reads them
(seq2seq.tasks.tagging.formats; a split may be a slice, `uner-dev.iob2.xz[:1800]`), and
scored as `seq2seq-score --task tag` scores: token accuracy, and seqeval's strict IOB2
entity scores when the tags are IOB2. Needs scikit-learn: `pip install 'seq2seq[baselines]'`.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from seq2seq.cli.common import run as run_cli
from seq2seq.config.extras import requires
from seq2seq.tasks.tagging.formats import read_tagged, split_slice
from seq2seq.tasks.tagging.metrics import TagScores, tag_scores

PROG = "baselines.py"
Tagged = list[tuple[list[str], list[str]]]


def read(spec: str, args: argparse.Namespace) -> Tagged:
    """A tagged file (or a slice of its sentences: `FILE[a:b]`)."""
    name, part = split_slice(spec)
    sentences = list(read_tagged(Path(name), args.column, args.token_column, args.tag_column))
    if not sentences[part]:
        raise ValueError(f"{spec}: no sentences")
    return [(tokens, tags) for _, tokens, tags in sentences[part]]


class Majority:
    """Each word's most frequent training tag; the most frequent tag for unknown words."""

    def __init__(self, train: Tagged):
        by_word: dict[str, Counter] = defaultdict(Counter)
        overall: Counter = Counter()
        for tokens, tags in train:
            for token, tag in zip(tokens, tags):
                by_word[token][tag] += 1
                by_word[token.lower()][tag] += 1 if token.lower() != token else 0
                overall[tag] += 1
        self.best = {w: c.most_common(1)[0][0] for w, c in by_word.items() if c}
        self.default = overall.most_common(1)[0][0]

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        return [[self.best.get(t, self.best.get(t.lower(), self.default)) for t in s]
                for s in sentences]


def shape(word: str) -> str:
    """"Xxxx" for "Qaim", "dd" for "12", "x-x" for "e-mail": runs of a kind collapsed."""
    s = re.sub("[A-Z]", "X", re.sub("[a-z]", "x", re.sub("[0-9]", "d", word)))
    return re.sub(r"(.)\1+", r"\1\1", s)


def features(tokens: list[str], i: int) -> dict[str, float]:
    w = tokens[i]
    low = w.lower()
    f = {"bias": 1.0, f"w={low}": 1.0, f"shape={shape(w)}": 1.0,
         "title": float(w.istitle()), "upper": float(w.isupper()),
         "digit": float(any(c.isdigit() for c in w)), "hyphen": float("-" in w),
         "first": float(i == 0)}
    for k in range(1, 5):
        f[f"pre{k}={low[:k]}"] = 1.0
        f[f"suf{k}={low[-k:]}"] = 1.0
    for d in (-2, -1, 1, 2):
        j = i + d
        other = tokens[j].lower() if 0 <= j < len(tokens) else "<s>" if j < 0 else "</s>"
        f[f"w{d:+d}={other}"] = 1.0
        f[f"suf3{d:+d}={other[-3:]}"] = 1.0
    return f


class LogReg:
    def __init__(self, train: Tagged, c: float):
        feature_extraction = requires("sklearn.feature_extraction", "baselines", PROG)
        linear_model = requires("sklearn.linear_model", "baselines", PROG)
        self.vectorizer = feature_extraction.DictVectorizer()
        x = self.vectorizer.fit_transform(f for tokens, _ in train
                                          for f in map(lambda i: features(tokens, i),
                                                       range(len(tokens))))
        y = [t for _, tags in train for t in tags]
        self.model = linear_model.LogisticRegression(C=c, max_iter=300)
        self.model.fit(x, y)

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        x = self.vectorizer.transform(features(s, i) for s in sentences for i in range(len(s)))
        flat = [str(t) for t in self.model.predict(x)]
        out, at = [], 0
        for s in sentences:
            out.append(flat[at: at + len(s)])
            at += len(s)
        return out


def scored(model, sentences: Tagged) -> TagScores:
    return tag_scores(model.tag([tokens for tokens, _ in sentences]),
                      [tags for _, tags in sentences])


def as_dict(s: TagScores) -> dict:
    e = s.entities
    return {"accuracy": s.accuracy, "tokens": s.tokens,
            **({"entity_f1": e.f1, "entity_precision": e.precision,
                "entity_recall": e.recall} if e is not None else {})}


def baselines(args: argparse.Namespace) -> dict:
    train = read(args.train, args)
    report: dict = {"train": args.train, "column": args.column, "C": args.c, "scores": {}}
    started = time.monotonic()
    models = {"majority": Majority(train)}
    models["logreg"] = LogReg(train, args.c)
    report["fit_seconds"] = round(time.monotonic() - started, 1)
    for split in ([args.dev] if args.dev else []) + args.test:
        sentences = read(split, args)
        for name, model in models.items():
            s = scored(model, sentences)
            report["scores"].setdefault(split, {})[name] = as_dict(s)
            print(f"{split}  {name:<8}  {s}")
    return report


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("--train", required=True, help="a tagged file, or FILE[a:b]")
    p.add_argument("--dev", help="scored too (nothing is tuned on it)")
    p.add_argument("--test", action="append", required=True, help="repeat for more")
    p.add_argument("--column", default="upos", help="CoNLL-U: upos | xpos | misc:KEY")
    p.add_argument("--token-column", type=int, default=0, help="CoNLL columns: the token")
    p.add_argument("--tag-column", type=int, default=-1, help="CoNLL columns: the tag")
    p.add_argument("--c", type=float, default=1.0, help="logreg's inverse L2 strength")
    p.add_argument("--json", type=Path, help="write every figure to this JSON file")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p.parse_args(sys.argv[1:] if argv is None else argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)

    def body() -> None:
        report = baselines(args)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=2) + "\n")
    run_cli(PROG, body, args.debug)


if __name__ == "__main__":
    main()
