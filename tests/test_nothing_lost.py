"""Nothing lost (issue 27): a command that must refuse does so in one line and leaves every
file it was given (a run directory, an input, an image) byte for byte as it was; every
inference command refuses another task's run; a run resumed after a kill records each step
once; a line far longer than training decodes in bounded time."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import corpus_lines, run_cli, run_main, write_lines
from seq2seq import Translator
from seq2seq.cli.average import main as average_main
from seq2seq.cli.score import main as score_main
from seq2seq.config.compose import load_config
from seq2seq.tasks.captioning.cli import main as caption_main
from seq2seq.tasks.classification.cli import main as classify_main
from seq2seq.tasks.language_model.cli import main as sample_main
from seq2seq.tasks.tagging.cli import main as tag_main
from seq2seq.tasks.translation.cli import main as translate_main
from seq2seq.training import checkpoint
from seq2seq.training.loop import train
from seq2seq.training.rundir import RunDir

CLIS = {"translate": translate_main, "sample": sample_main, "classify": classify_main,
        "caption": caption_main, "tag": tag_main}
TASK_OF = {"translate": "translation", "sample": "language_model", "classify": "classification",
           "caption": "captioning", "tag": "tagging"}


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (and each folder, as "dir"), by relative path."""
    return {str(p.relative_to(root)): "dir" if p.is_dir() else
            hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))}


def refused(status: int, err: str, prog: str, *needles: str) -> str:
    """Exit 1 and exactly one line, `prog: error: ...`, naming each needle."""
    assert status == 1 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"seq2seq-{prog}: error: "), err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """What each command reads: text lines, and an image (a list of one image)."""
    from PIL import Image
    root = tmp_path_factory.mktemp("inputs")
    Image.fromarray(np.full((12, 12, 3), 200, np.uint8)).save(root / "image.png")
    return {"text": write_lines(root / "in.txt", corpus_lines("dev", "es", 3)),
            "image": root / "image.png",
            "list": write_lines(root / "images.txt", [str(root / "image.png")])}


def argv_for(cli: str, run: Path, inputs: dict[str, Path], out: Path) -> list:
    if cli == "sample":
        return [run, "--n", "2", "--max-len", "5", "--device", "cpu"]
    source = inputs["list"] if cli == "caption" else inputs["text"]
    return [run, "--input", source, "--output", out, "--device", "cpu"]


# ------------------------------------------------------------------ every CLI x every task
@pytest.mark.parametrize("cli", CLIS)
@pytest.mark.parametrize("task", TASK_OF.values())
def test_every_inference_cli_reads_its_own_task_s_runs_and_refuses_the_others(
        cli, task, task_runs, inputs, tmp_path):
    out = tmp_path / "out.txt"
    status, stdout, err = run_main(CLIS[cli], argv_for(cli, task_runs[task], inputs, out))
    if TASK_OF[cli] == task:  # the fixture's runs are real runs: their own command reads them
        assert status == 0, err
        lines = {"sample": 2, "caption": 1}.get(cli, 3)  # --n 2; one image; three texts
        assert len((stdout if cli == "sample" else out.read_text()).splitlines()) == lines
        return
    refused(status, err, cli, f"{task_runs[task]}: a {task} run, not a {TASK_OF[cli]} run",
            f"needs task={TASK_OF[cli]}")
    assert stdout == "" and not out.exists() and list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ output over an input
def test_translate_classify_and_tag_refuse_output_over_their_input(task_runs, inputs,
                                                                     tmp_path):
    for cli, run in (("translate", task_runs["translation"]),
                     ("classify", task_runs["classification"]), ("tag", task_runs["tagging"])):
        text = shutil.copy(inputs["text"], tmp_path / f"{cli}.txt")
        link = tmp_path / f"{cli}.link"
        os.link(text, link)  # a hard link: the same file by another name
        for output in (text, link, RunDir(run).checkpoint("best.pt")):
            before = tree_hashes(tmp_path), tree_hashes(run)
            status, out, err = run_main(CLIS[cli], [run, "--input", text, "--output", output])
            refused(status, err, cli, f"{output}: --output would overwrite an input")
            assert out == "" and (tree_hashes(tmp_path), tree_hashes(run)) == before


def test_caption_refuses_output_or_sheet_over_an_input(task_runs, inputs, tmp_path):
    work = Path(shutil.copytree(inputs["image"].parent, tmp_path / "in"))
    listing, image = work / "images.txt", work / "image.png"
    write_lines(listing, [str(image)])
    for option, target in (("--output", listing), ("--output", image), ("--sheet", image),
                           ("--sheet", listing)):
        before = tree_hashes(work)
        status, out, err = run_main(caption_main, [task_runs["captioning"], "--input", listing,
                                                   option, target, "--device", "cpu"])
        refused(status, err, "caption", f"{target}: {option} would overwrite an input")
        assert tree_hashes(work) == before


def test_a_directory_as_input_is_named_as_one(task_runs, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    for cli in ("translate", "classify", "caption", "tag"):
        run = task_runs[TASK_OF[cli]]
        status, _, err = run_main(CLIS[cli], [run, "--input", folder, "--device", "cpu"])
        refused(status, err, cli, f"{folder}: a directory, not a file")
    ref = write_lines(tmp_path / "ref.txt", ["a reference"])
    status, _, err = run_main(score_main, [folder, ref])
    refused(status, err, "score", f"{folder}: a directory, not a file")


# ------------------------------------------------------------------ seq2seq-average
@pytest.fixture
def kept_run(smoke_run, tmp_path) -> Path:
    """A copy of the smoke run holding three checkpoint_<step>.pt (as keep_checkpoints
    leaves them)."""
    run = Path(shutil.copytree(smoke_run["run_dir"], tmp_path / "run"))
    for step in (2, 4, 6):
        shutil.copy(run / "checkpoints" / "last.pt",
                    run / "checkpoints" / f"checkpoint_{step:08d}.pt")
    return run


@pytest.mark.parametrize("name", ["last.pt", "best.pt", "checkpoint_00000006.pt",
                                  "checkpoint_00000099.pt"])
def test_average_never_replaces_a_training_checkpoint(name, kept_run):
    before = tree_hashes(kept_run)
    status, _, err = run_main(average_main, [kept_run, "--last", "2", "--output",
                                         kept_run / "checkpoints" / name])
    refused(status, err, "average", f"{name}: --output would replace a training checkpoint")
    assert tree_hashes(kept_run) == before


def test_average_refuses_output_over_an_input_by_another_name(kept_run, tmp_path):
    link = tmp_path / "mine.pt"
    os.link(kept_run / "checkpoints" / "checkpoint_00000006.pt", link)
    before = tree_hashes(kept_run)
    status, _, err = run_main(average_main, [kept_run, "--last", "2", "--output", link])
    refused(status, err, "average", f"{link}: --output would overwrite an input")
    assert tree_hashes(kept_run) == before
    status, out, err = run_main(average_main, [kept_run, "--last", "2"])  # averaged.pt: fine
    assert status == 0 and (kept_run / "checkpoints" / "averaged.pt").is_file(), err


# ------------------------------------------------------------------ a refused resume
def smoke_config(smoke_run, run_dir: Path, *extra: str):
    overrides = [o for o in smoke_run["overrides"] if not o.startswith("trainer.run_dir=")]
    return load_config([*overrides, f"trainer.run_dir={run_dir}", *extra])


def test_training_into_another_task_s_run_changes_nothing(smoke_run, task_runs, tmp_path):
    """The issue's case: a translation command pointed at a captioning run."""
    run = Path(shutil.copytree(task_runs["captioning"], tmp_path / "caption"))
    before = tree_hashes(run)
    overrides = [o for o in smoke_run["overrides"] if not o.startswith("trainer.run_dir=")]
    result = run_cli("seq2seq-train", *overrides, f"trainer.run_dir={run}", cwd=tmp_path)
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert result.returncode == 1 and errors == result.stderr.splitlines()[-1:], result.stderr
    assert f"{run}: a run of another config: " in errors[0] and \
        "task=captioning (now translation)" in errors[0] and "train into a new" in errors[0]
    assert tree_hashes(run) == before


RESUMES = {  # what changes, and what the one line names
    "model shape": (["model.hidden_dim=32"], "model.hidden_dim=16 (now 32)"),
    "tokenizer": (["tokenizer.model_type=bpe"], "tokenizer.model_type=unigram (now bpe)"),
    "optimizer": (["optim.name=adam"], "optim.name=sgd (now adam)"),
}


@pytest.mark.parametrize("change", RESUMES)
def test_resuming_with_another_config_names_the_keys_and_changes_nothing(
        change, smoke_run, tmp_path):
    overrides, named = RESUMES[change]
    run = Path(shutil.copytree(smoke_run["run_dir"], tmp_path / "run"))
    before = tree_hashes(run)
    cfg = smoke_config(smoke_run, run, "trainer.max_steps=8", *overrides)
    with pytest.raises(ValueError, match=re.escape(f"{run}: a run of another config: {named}")):
        train(cfg)
    assert tree_hashes(run) == before


@pytest.mark.parametrize("text", ["task: [caption\n", "- a list\n", "model: 3\n"])
def test_an_unreadable_run_config_is_named_and_kept(text, smoke_run, tmp_path):
    run = Path(shutil.copytree(smoke_run["run_dir"], tmp_path / "run"))
    shutil.rmtree(run / "checkpoints")
    (run / "config.yaml").write_text(text)
    before = tree_hashes(run)
    with pytest.raises(ValueError, match=re.escape(f"{run / 'config.yaml'}: not a readable "
                                                   "run config")):
        train(smoke_config(smoke_run, run))
    assert tree_hashes(run) == before


def test_a_run_without_checkpoint_keeps_its_config_too(smoke_run, tmp_path):
    """Stopped before its first checkpoint: config.yaml says what the run is."""
    run = Path(shutil.copytree(smoke_run["run_dir"], tmp_path / "run"))
    shutil.rmtree(run / "checkpoints")
    before = tree_hashes(run)
    with pytest.raises(ValueError, match=r"model.layers=2 \(now 1\)"):
        train(smoke_config(smoke_run, run, "model.layers=1"))
    assert tree_hashes(run) == before


@pytest.mark.parametrize("damage", ["no optimizer", "other sentencepiece model"])
def test_an_unresumable_run_is_refused_in_one_line_and_changes_nothing(
        damage, smoke_run, tokenizer, tmp_path):
    run = Path(shutil.copytree(smoke_run["run_dir"], tmp_path / "run"))
    last = run / "checkpoints" / "last.pt"
    if damage == "no optimizer":  # what seq2seq-average writes, copied over last.pt by hand
        state = torch.load(last, weights_only=False)
        del state["optimizer"]
        checkpoint.save(state, last)
        needle = f"{last}: no optimizer state"
    else:
        (run / "spm" / "tgt.model").write_bytes(tokenizer.tgt.serialized_model_proto())
        needle = f"{run / 'spm' / 'tgt.model'}: the run's sentencepiece model differs from"
    before = tree_hashes(run)
    with pytest.raises(ValueError, match=re.escape(needle)):
        train(smoke_config(smoke_run, run, "trainer.max_steps=8"))
    assert tree_hashes(run) == before


def test_run_dir_that_is_a_file_names_the_key(smoke_run, tmp_path):
    (tmp_path / "es.txt").write_text("hola\n")
    before = tree_hashes(tmp_path)
    result = run_cli("seq2seq-train", *smoke_run["overrides"][:1],
                     f"data.prepared_dir={smoke_run['prepared_dir']}",
                     f"trainer.run_dir={tmp_path / 'es.txt'}", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == (f"seq2seq-train: error: config key "
                                              f"'trainer.run_dir': {tmp_path / 'es.txt'} is a "
                                              "file, not a directory")
    assert tree_hashes(tmp_path) == before


# ------------------------------------------------------------------ records after a resume
def test_a_resumed_run_records_each_step_once(smoke_run, tmp_path):
    """Killed after step 9 with last.pt at step 6 (the smoke run's): the resumed run takes
    steps 7-9 again, and metrics.jsonl and train.log keep only the second take."""
    run = Path(shutil.copytree(smoke_run["run_dir"], tmp_path / "run"))
    at_6 = (run / "checkpoints" / "last.pt").read_bytes()
    overrides = [o for o in smoke_run["overrides"] if not o.startswith("trainer.run_dir=")]
    for steps in (9, 10):
        result = run_cli("seq2seq-train", *overrides, f"trainer.run_dir={run}",
                         f"trainer.max_steps={steps}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        if steps == 9:  # the kill: last.pt is still step 6's
            (run / "checkpoints" / "last.pt").write_bytes(at_6)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in records if "train_loss" in r]
    eval_steps = [r["step"] for r in records if "train_loss" not in r]
    assert train_steps == [2, 4, 6, 8, 10] and eval_steps == [6, 10], records
    logged = re.findall(r"(eval )?epoch [0-9.]+ step ([0-9]+) \|", (run / "train.log").read_text())
    assert logged == [("", "2"), ("", "4"), ("", "6"), ("eval ", "6"), ("", "8"),
                      ("", "10"), ("eval ", "10")]
    # metrics.jsonl's and train.log's lines of step 8 and of the evaluation at step 9
    assert "4 lines of later steps (taken again now) removed" in result.stderr


# ------------------------------------------------------------------ decoding time
def test_a_line_far_longer_than_training_is_cut_at_decode_max_len(tmp_path):
    """A line of about 100,000 pieces through a model that never ends a sentence by itself
    (an old run's, tests/fixtures/old_runs/paper): before decode.max_len, one output line of
    147,208 words after about three minutes; now at most 2 x data.max_len pieces, said in
    the warning, in seconds (the timeout is a guard, not a benchmark)."""
    run = Path(__file__).parent / "fixtures" / "old_runs" / "paper"
    rng = np.random.default_rng(0)
    line = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 100_000))
    source = write_lines(tmp_path / "long.txt", [line, "hola"])
    t = Translator.from_run(run, device="cpu")
    assert t.decode.max_len == 160  # twice the run's data.max_len of 80
    assert len(t.tokenizer.encode_source([line])[0]) > 50_000
    result = run_cli("seq2seq-translate", run, "--input", source, "--device", "cpu",
                     cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"{source}:1: " in result.stderr and \
        "translated into at most 160 pieces (decode.max_len)" in result.stderr
    first, second = result.stdout.splitlines()
    assert 100 < len(first.split()) <= 160  # it would go on: the cap ends it
    for cap in (160, 7):
        hyps = t.hypotheses([line], t.settings(max_len=cap))
        assert len(hyps[0][0].ids) == cap  # no eos of its own: cut at the cap
