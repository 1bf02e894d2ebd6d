"""seq2seq-caption end to end on tiny real runs (`seq2seq-train experiment=digits_image
debug=smoke`, and one of digits_frames): N images in, N captions out, as the Python API
gives them; n-best, ensembles, the contact sheet, scoring the output; bad input is one
line on stderr naming the file (or list line), a non-zero exit, and no --output."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import console_script, recipe_module, run_cli
from seq2seq import Captioner
from seq2seq.tasks.captioning.cli import main as caption_main

MAX_DIGITS = 3
WIDTH = 8 * MAX_DIGITS + MAX_DIGITS + 1  # the canvas of 1-3 digits, unresized: 28

digit_strings = recipe_module("digit-strings", "build_data")


def caption_cli(*args, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """seq2seq-caption in a fresh process: the console script when installed, else the
    module (an editable install made before the script was added lacks it)."""
    exe = console_script("seq2seq-caption")
    cmd = [exe] if Path(exe).exists() else [sys.executable, "-m", "seq2seq.tasks.captioning.cli"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, text=True, capture_output=True,
                          env=env, timeout=timeout)


def lines_of(text: str) -> list[str]:
    return text.splitlines()


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    """Imagefolder digit strings of 1-3 digits: 200 train, 20 dev, 20 test, as PNG canvases
    (images/<split>/) and .npy videos (frames/<split>/)."""
    out = tmp_path_factory.mktemp("digits")
    for split, n in (("train", 200), ("dev", 20), ("test", 20)):
        digit_strings.write(digit_strings.build(split, n, seed=1, max_digits=MAX_DIGITS),
                            out, split)
    return out


def train(work: Path, *overrides: str) -> dict:
    run_dir, prepared = work / "run", work / "prepared"
    result = run_cli("seq2seq-train", *overrides, f"data.prepared_dir={prepared}",
                     f"trainer.run_dir={run_dir}", cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    (prepared_split,) = prepared.glob("*/test.src")  # prepared/<hash>/
    return {"work": work, "run": run_dir, "prepared": prepared_split.parent}


@pytest.fixture(scope="module")
def image_run(digits, tmp_path_factory) -> dict:
    return train(tmp_path_factory.mktemp("image-run"), "experiment=digits_image",
                 "debug=smoke", f"data.local_dir={digits / 'images'}",
                 f"data.image_width={WIDTH}")


@pytest.fixture(scope="module")
def frames_run(digits, tmp_path_factory) -> dict:
    return train(tmp_path_factory.mktemp("frames-run"), "experiment=digits_frames",
                 "debug=smoke", f"data.local_dir={digits / 'frames'}")


@pytest.fixture(scope="module")
def test_images(image_run) -> list[str]:
    """The prepared test split's image paths (absolute), as written in test.src."""
    paths = lines_of((image_run["prepared"] / "test.src").read_text(encoding="utf-8"))
    assert len(paths) == 20 and all(Path(p).is_absolute() and Path(p).is_file() for p in paths)
    return paths


@pytest.fixture(scope="module")
def expected(image_run, test_images) -> list[str]:
    """What the Python API says of the test images (the run's beam size, 2 in debug=smoke)."""
    return Captioner.from_run(image_run["run"], device="cpu").caption(test_images)


# ------------------------------------------------------------------ captions
def test_images_on_the_command_line_give_a_line_each(image_run, test_images, expected):
    result = caption_cli(image_run["run"], test_images[0], test_images[1], cwd=image_run["work"])
    assert result.returncode == 0, result.stderr
    assert lines_of(result.stdout) == expected[:2]


@pytest.fixture(scope="module")
def listed(image_run, tmp_path_factory) -> dict:
    """One run of `--input test.src --output test.hyp --sheet sheet.png --refs
    test.refs.jsonl`, which several tests read."""
    out = tmp_path_factory.mktemp("listed")
    prepared = image_run["prepared"]
    result = caption_cli(image_run["run"], "--input", prepared / "test.src", "--output",
                         out / "test.hyp", "--sheet", out / "sheet.png", "--refs",
                         prepared / "test.refs.jsonl", cwd=out)
    assert result.returncode == 0, result.stderr
    return {"dir": out, "result": result, "hyp": out / "test.hyp", "sheet": out / "sheet.png"}


def test_a_list_gives_a_line_per_image_as_the_python_api_does(listed, expected):
    assert listed["result"].stdout == ""  # all of it in --output
    assert lines_of(listed["hyp"].read_text(encoding="utf-8")) == expected
    assert len(expected) == 20


def test_sheet_with_references_is_a_png(listed):
    assert listed["sheet"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_caption_metrics_scores_the_output(listed, image_run):
    score = subprocess.run([sys.executable, "-m", "seq2seq.tasks.captioning.score",
                            str(listed["hyp"]),
                            str(image_run["prepared"] / "test.refs.jsonl")],
                           capture_output=True, text=True, cwd=listed["dir"], timeout=120)
    assert score.returncode == 0, score.stderr
    assert re.search(r"^BLEU-4 = \d+\.\d+ ", score.stdout, re.M), score.stdout
    assert re.search(r"^CIDEr-D = \d+\.\d{3}  \(pycocoevalcap:[0-9.]+\|tok:13a\|case:lc\)$",
                     score.stdout, re.M), score.stdout
    assert re.search(r"^ROUGE-L = [01]\.\d{3}  \(pycocoevalcap:", score.stdout, re.M), score.stdout


def test_a_clean_run_says_nothing_on_stderr(listed):
    assert listed["result"].stderr == ""


NBEST = re.compile(r"^(\d+) \|\|\| (.*) \|\|\| (-?\d+\.\d{4}|-inf)$")


def test_nbest_gives_n_lines_per_image_best_first(image_run, test_images, tmp_path):
    result = caption_cli(image_run["run"], "--input", image_run["prepared"] / "test.src",
                         "--nbest", "2", "--beam-size", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [NBEST.match(line) for line in lines_of(result.stdout)]
    assert len(rows) == 2 * len(test_images) and all(rows), result.stdout[:500]
    assert [int(m.group(1)) for m in rows] == [i for i in range(len(test_images))
                                               for _ in range(2)]
    scores = [float(m.group(3)) for m in rows]
    assert all(a >= b for a, b in zip(scores[::2], scores[1::2]))
    api = Captioner.from_run(image_run["run"], device="cpu").caption_nbest(
        test_images, beam=2, nbest=2)
    assert [m.group(2) for m in rows] == [text for hyps in api for text, _ in hyps]
    assert scores == pytest.approx([s for hyps in api for _, s in hyps], abs=1e-3)


def test_an_ensemble_of_a_run_with_itself_captions_as_the_run(image_run, test_images,
                                                            expected, tmp_path):
    """Averaging two equal distributions changes nothing."""
    result = caption_cli(image_run["run"], *test_images[:5], "--ensemble", image_run["run"],
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert lines_of(result.stdout) == expected[:5]


def test_images_after_options_as_the_usage_writes_them(image_run, test_images, expected,
                                                       tmp_path):
    """The module's usage: seq2seq-caption RUN --ensemble RUN2 IMAGE..."""
    result = caption_cli(image_run["run"], "--ensemble", image_run["run"], "--beam-size", "2",
                         *test_images[:2], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert lines_of(result.stdout) == expected[:2]


def test_a_frames_run_captions_a_video(frames_run, digits, tmp_path):
    video = digits / "frames" / "test" / "test-000003.npy"
    assert np.load(video).ndim == 3  # (T, H, W) uint8
    result = caption_cli(frames_run["run"], video, digits / "frames" / "test" / "test-000004.npy",
                         cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    api = Captioner.from_run(frames_run["run"], device="cpu").caption(
        [str(video), str(digits / "frames" / "test" / "test-000004.npy")])
    assert lines_of(result.stdout) == api


# ------------------------------------------------------------------ bad input
def bad_case(name: str, image_run: dict, test_images: list[str], tmp_path: Path, request):
    """(arguments, what the one stderr line must name) of each bad input."""
    run, refs = image_run["run"], image_run["prepared"] / "test.refs.jsonl"
    if name == "missing image":
        return [run, test_images[0], tmp_path / "nope.png"], "argument 2: "
    if name == "empty list line":
        listing = tmp_path / "list.txt"
        listing.write_text(f"{test_images[0]}\n\n{test_images[1]}\n", encoding="utf-8")
        return [run, "--input", listing], f"{listing}:2: an empty line"
    if name == "missing list line":
        listing = tmp_path / "list.txt"
        listing.write_text(f"{test_images[0]}\n{tmp_path / 'gone.png'}\n", encoding="utf-8")
        return [run, "--input", listing], f"{listing}:2: "
    if name == "corrupt image":
        bad = tmp_path / "x.png"
        bad.write_bytes(b"\x00garbage, not a PNG\xff" * 8)
        return [run, test_images[0], bad], f"{bad}: not a readable image"
    if name == "translation run":
        smoke = request.getfixturevalue("smoke_run")["run_dir"]
        return [smoke, test_images[0]], f"{smoke}: a translation run"
    if name == "refs count":
        return [run, test_images[0], "--refs", refs], f"{refs}: 20 references for 1 images"
    if name == "ensemble of other sizes":
        frames = request.getfixturevalue("frames_run")["run"]
        return [run, test_images[0], "--ensemble", frames], f"{frames}: its images are"
    raise AssertionError(name)


BAD = ["missing image", "empty list line", "missing list line", "corrupt image",
       "translation run", "refs count", "ensemble of other sizes"]


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_one_line_naming_it_and_nothing_is_written(name, image_run, test_images,
                                                                tmp_path, request, capsys):
    """In process (seq2seq.tasks.captioning.cli.main, as the console script calls it): fast."""
    args, named = bad_case(name, image_run, test_images, tmp_path, request)
    out = tmp_path / "out.txt"
    with pytest.raises(SystemExit) as exit:
        caption_main([*map(str, args), "--output", str(out), "--device", "cpu"])
    assert exit.value.code not in (0, None)
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err and "Traceback" not in err, captured.err
    assert err.startswith("seq2seq-caption: error: ") and named in err, err
    assert not out.exists()


def test_bad_input_through_the_console_script(image_run, test_images, tmp_path, request):
    """The same in a fresh process: exit status 1, the one line, nothing written."""
    args, named = bad_case("corrupt image", image_run, test_images, tmp_path, request)
    out = tmp_path / "out.txt"
    result = caption_cli(*args, "--output", out, cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and named in result.stderr, result.stderr
    assert not out.exists()
