"""recipes/sentiment/baselines.py: majority class and bag-of-words logistic regression on a
generated labelled TSV whose label a single word gives away."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SCRIPT = REPO / "recipes" / "sentiment" / "baselines.py"
FILLER = ("the movie plot actor scene was a an of and it this that story film with very "
          "quite really some long short music ending").split()


def write_tsv(path: Path, n: int, share_pos: float, seed: int) -> list[str]:
    """n sentences, pos ones holding "good", neg ones "bad", among 6-12 filler words."""
    rng = random.Random(seed)
    labels = ["pos" if i < round(n * share_pos) else "neg" for i in range(n)]
    rng.shuffle(labels)
    lines = ["text\tlabel"]
    for label in labels:
        words = rng.choices(FILLER, k=rng.randint(6, 12))
        words.insert(rng.randrange(len(words) + 1), "good" if label == "pos" else "bad")
        lines.append(" ".join(words) + "\t" + label)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return labels


def baselines(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=REPO)


def test_logreg_finds_the_word_and_majority_is_the_largest_share(tmp_path):
    pytest.importorskip("sklearn")
    write_tsv(tmp_path / "train.tsv", 200, 0.6, seed=1)
    write_tsv(tmp_path / "dev.tsv", 60, 0.6, seed=2)
    gold = write_tsv(tmp_path / "test.tsv", 100, 0.7, seed=3)
    out = tmp_path / "figures.json"
    result = baselines("--train", tmp_path / "train.tsv", "--dev", tmp_path / "dev.tsv",
                       "--test", tmp_path / "test.tsv", "--json", out)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    figures = report["tests"][str(tmp_path / "test.tsv")]
    assert report["labels"] == ["neg", "pos"] and report["majority_label"] == "pos"
    assert figures["majority"]["accuracy"] == pytest.approx(100 * gold.count("pos") / len(gold))
    assert figures["logreg"]["accuracy"] >= 95
    assert report["C"] in (0.25, 0.5, 1, 2, 4, 8) and len(report["dev_accuracy_by_C"]) == 6
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'dev.tsv'}  logreg C chosen on dev: ")
    assert lines[1] == f"{tmp_path / 'test.tsv'}  majority  acc 70.00%  macro-F1 41.18"
    assert lines[2].startswith(f"{tmp_path / 'test.tsv'}  logreg    acc ")


def test_bad_input_is_one_line_naming_the_file(tmp_path):
    pytest.importorskip("sklearn")
    write_tsv(tmp_path / "train.tsv", 20, 0.5, seed=1)
    result = baselines("--train", tmp_path / "train.tsv", "--test", tmp_path / "train.tsv",
                       "--label-column", "polarity")
    assert result.returncode == 1
    assert result.stderr.strip() == (f"baselines.py: error: {tmp_path / 'train.tsv'}:1: no "
                                     "column 'polarity' (columns: text, label)")


def test_without_sklearn_it_says_what_to_install(tmp_path):
    fake = tmp_path / "site" / "sklearn"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    result = baselines("--train", tmp_path / "none.tsv", "--test", tmp_path / "none.tsv", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == ("baselines.py: needs scikit-learn: "
                                     "pip install 'seq2seq[baselines]'")
