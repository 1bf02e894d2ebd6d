"""The package installs anywhere: the wheel, built from the package's own files, installed
with its core dependencies only into a fresh venv, prepares, trains, translates and scores
from a directory outside the checkout (the configs ship inside it); a command that needs an
extra says which one in one line."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, corpus_lines, write_lines

EXTRAS = ("PIL", "jiwer", "pycocoevalcap", "matplotlib", "torchvision", "sklearn",
          "tensorboard", "pytest")


def run(cmd: list, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                            env=dict(env, OMP_NUM_THREADS="1"), timeout=600)
    assert not check or result.returncode == 0, (cmd, result.stderr[-3000:])
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding torch 2.13.0 (the local CPU build) and the wheel with
    its core dependencies, nothing else."""
    root = tmp_path_factory.mktemp("package")
    src = root / "src"  # the files a wheel is built from: not the checkout's own folder
    shutil.copytree(REPO / "seq2seq", src / "seq2seq",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", root / "dist", src], cwd=root)
    wheel = next((root / "dist").glob("seq2seq-*.whl"))
    run([sys.executable, "-m", "venv", root / "venv"], cwd=root)
    # --no-compile: no .pyc for the thousands of files nothing here imports (half the time)
    run([root / "venv" / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile",
         "torch==2.13.0", wheel], cwd=root)
    return root / "venv" / "bin"


def test_the_wheel_trains_and_translates_from_any_directory_with_core_dependencies(
        venv, tmp_path):
    for module in EXTRAS:  # core only: no extra came in with it
        assert run([venv / "python", "-c", f"import {module}"], tmp_path, check=False
                   ).returncode != 0, module
    page = run([venv / "python", "-c", "import pathlib, seq2seq; print(sorted(p.name for p in "
                "(pathlib.Path(seq2seq.__file__).parent / 'serving' / 'page').iterdir()))"],
               tmp_path).stdout  # seq2seq-serve's web page ships in the wheel
    assert page.strip() == "['index.html', 'page.css', 'page.js']", page
    corpus = tmp_path / "corpus"
    for split, n in (("train", 300), ("dev", 20), ("test", 20)):
        for lang in ("es", "en"):
            write_lines(corpus / f"{split}.{lang}", corpus_lines(split, lang, n))
    data = ["debug=smoke", f"data.local_dir={corpus}", "data.extra_ref_langs=[]",
            "data.prepared_dir=prepared"]
    run([venv / "seq2seq-prepare", *data], tmp_path)
    run([venv / "seq2seq-train", *data, "trainer.run_dir=run"], tmp_path)
    run([venv / "seq2seq-translate", "run", "--input", corpus / "test.es", "--output",
         "test.hyp"], tmp_path)
    assert len((tmp_path / "test.hyp").read_text().splitlines()) == 20
    scores = run([venv / "seq2seq-score", "test.hyp", corpus / "test.en"], tmp_path).stdout
    assert scores.startswith("BLEU = ") and "\nchrF = " in scores, scores


def test_a_command_that_needs_an_extra_names_it_in_one_line(venv, tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG not really")
    result = run([venv / "seq2seq-caption", tmp_path / "no-run", image], tmp_path, check=False)
    assert result.returncode == 1 and result.stdout == "", result.stderr
    assert result.stderr.splitlines() == [
        "seq2seq-caption: error: ImportError: seq2seq-caption (reading images) needs PIL, "
        "which is not installed: pip install 'seq2seq[caption]'"]
