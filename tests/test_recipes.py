"""Every recipe's `make smoke`: the whole chain (data prepare train translate score plot)
on a slice of the data, through the same Makefile targets a full run uses."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

RECIPES = sorted(p.parent.name for p in (REPO / "recipes").glob("*/Makefile"))


def test_the_expected_recipes_exist():
    assert RECIPES == ["attention", "beam-ablation", "bible-es-en", "digit-strings",
                       "emoji-captions", "ensemble", "reversal-ablation", "sentiment",
                       "ud-tagging", "wmt14-en-fr-sutskever2014"]
    for name in RECIPES:
        readme = (REPO / "recipes" / name / "README.md").read_text()
        assert "make -C recipes/" + name in readme


# `make test` runs the smoke chains of the core recipes (bible-es-en: the demo's; the
# paper's WMT'14 recipe); the others (25-75 s each) run with `make test-all`: ablations
# whose Makefiles vary only arguments (beam sizes; reverse_source) that fast tests cover,
# and the recipes whose commands the CLI tests run one by one (digit-strings, emoji-
# captions: test_caption_cli.py; sentiment: test_classify_cli.py and test_lm.py; ensemble:
# test_ensemble.py; attention: test_parts.py; ud-tagging: tests/tasks/tagging/).
SLOW_RECIPES = {"beam-ablation", "reversal-ablation", "digit-strings", "emoji-captions",
                "sentiment", "ensemble", "attention", "ud-tagging"}
# Captioning recipes: their contact sheet (test images with captions and references).
CAPTION_SHEETS = {"digit-strings": "image/sheet.png", "emoji-captions": "attention/sheet.png"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_RECIPES
                                  else n for n in RECIPES])
def test_recipe_smoke(name, tmp_path):
    work = tmp_path / "recipes"
    shutil.copytree(REPO / "recipes", work, ignore=shutil.ignore_patterns("runs*"))
    # A copy, so runs stay out of the tree; ROOT points it back at the repository.
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(["make", "-C", str(work / name), "smoke", f"ROOT={REPO}",
                             f"PREPARED_DIR={tmp_path / 'prepared'}"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    runs = work / name / "runs-smoke"
    scores = sorted(runs.rglob("*.score"))
    assert scores, result.stdout[-2000:]
    for score in scores:
        lines = score.read_text().splitlines()
        if name == "sentiment":  # a classifier's: accuracy, macro-F1, the confusion matrix
            assert lines[0].startswith("accuracy = ") and "macro-F1 = " in lines[0]
            assert lines[1].split() == ["neg", "pos"] and len(lines) == 4
            continue
        if name == "ud-tagging":  # token accuracy; entity P/R/F1 (seqeval) for NER
            assert lines[0].startswith("token accuracy = ")
            assert "ner" not in score.parent.parent.name or "(seqeval IOB2 strict" in lines[1]
            continue
        if name in CAPTION_SHEETS:  # BLEU-1..4 with signatures, CIDEr-D, exact and CER
            assert lines[0].startswith("BLEU-1 = ") and "version:" in lines[0]
            assert lines[3].startswith("BLEU-4 = ") and "version:" in lines[3]
            assert lines[4].startswith("CIDEr-D = ") and "(pycocoevalcap:" in lines[4]
            assert lines[5].startswith("ROUGE-L = ") and "|tok:13a|" in lines[5]
            assert [line.split(" = ")[0] for line in lines[6:]] == ["exact", "CER"]
            assert score.with_suffix(".json").is_file()
            continue
        assert lines[0].startswith("BLEU = ") and "version:" in lines[0]
        assert lines[1].startswith("chrF = ")
        assert lines[2].startswith("TER = ") and "tok:tercom" in lines[2]
    assert (runs / "curves.png").read_bytes()[:4] == b"\x89PNG"
    if name == "sentiment":  # 2 classifiers x 1 test set (4 x 4 in a full run), baselines
        assert len(scores) == 2
        assert "logreg" in (runs / "baselines.txt").read_text()
    if name == "ud-tagging":  # UPOS and NER from its encoder with a CRF; baselines; table
        assert len(scores) == 2
        assert "| upos |" in (runs / "table.md").read_text()
        assert "logreg (baseline)" in (runs / "table.md").read_text()
    if name in CAPTION_SHEETS:  # runs x beams 5 and 1 (emoji: + the nearest neighbour)
        assert (runs / CAPTION_SHEETS[name]).read_bytes()[:4] == b"\x89PNG"
        # emoji: + across styles (blob held out, two variants: held-out and in-style
        # scores each, and the nearest neighbour's)
        assert len(scores) == {"digit-strings": 4, "emoji-captions": 5 + 6}[name]
    if name == "emoji-captions":  # the table of held-out style x variant; the sheet
        table = (runs / "styles" / "table.md").read_text().splitlines()
        assert [row.split(" | ")[:2] for row in table[2:]] == [
            ["| blob (151)", "attention"], ["| blob (151)", "attention, rotate 10"]], table
        assert (runs / "styles" / "sheet.png").read_bytes()[:4] == b"\x89PNG"
