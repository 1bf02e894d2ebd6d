"""seq2seq-export: for every task the export answers exactly as the run (Python API and
commands); an ensemble export is the ensemble, an averaged one the mean of the weights;
the card's scores are the run's own (metrics.jsonl); a pickle put where the weights
belong is refused without being run; hf://owner/name resolves through huggingface_hub's
snapshot_download, here from a local snapshot (offline: the download itself needs the
network, which the tests do not have)."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import seq2seq
from seq2seq.cli.export import main as export_main
from seq2seq.export.write import export, weights_bytes
from seq2seq.tasks.translation.cli import main as translate_main
from seq2seq.training import checkpoint
from seq2seq.training.averaging import average

from conftest import console_script, run_main, task_run

TEXTS = ["En el principio era el Verbo .", "Dios es amor .", "y la luz"]


def answers(predictor, task: str, tmp_path) -> list:
    """What a task's predictor answers for a fixed input: texts and scores, or tags, or
    probabilities, or samples."""
    if task == "translation":
        return predictor.translate_nbest(TEXTS, beam=3, nbest=3)
    if task == "classification":
        return predictor.probabilities(TEXTS).tolist()
    if task == "tagging":
        return [p.tolist() for p in predictor.probabilities([t.split() for t in TEXTS])]
    if task == "captioning":
        image = tmp_path / "image.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 20), dtype=np.uint8)
                        ).save(image)
        return predictor.caption_nbest([str(image)], beam=3, nbest=3)
    return predictor.sample(4, max_len=12, seed=3)


def flat(values) -> list:
    """Every number of nested answers, in order (strings compared apart)."""
    if isinstance(values, (list, tuple)):
        return [x for v in values for x in flat(v)]
    return [values]


@pytest.mark.parametrize("task", ["translation", "classification", "tagging", "captioning",
                                  "language_model"])
def test_the_export_answers_as_the_run(task_runs, task, tmp_path):
    run = task_runs[task]
    out = export([run], tmp_path / "export")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["README.md", "config.yaml", "model.safetensors", "spm"]
        + (["labels.txt"] if (run / "labels.txt").exists() else []))
    want = flat(answers(seq2seq.load(run, device="cpu"), task, tmp_path))
    got = flat(answers(seq2seq.load(out, device="cpu"), task, tmp_path))
    assert [g for g in got if isinstance(g, str)] == [w for w in want if isinstance(w, str)]
    assert [g for g in got if not isinstance(g, str)] == pytest.approx(
        [w for w in want if not isinstance(w, str)], abs=1e-5)
    # at most the fp32 weights and the tokenizers, plus the card and config (a few KB)
    weights = weights_bytes(checkpoint.load(run / "checkpoints" / "best.pt")["model"])
    tokenizers = sum(p.stat().st_size for p in (run / "spm").iterdir())
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert size <= weights + tokenizers + 32 * 1024, (size, weights, tokenizers)
    assert b"torch" not in (out / "config.yaml").read_bytes()  # a config, not a pickle


def test_the_translate_command_reads_an_export_as_the_run(task_runs, tmp_path):
    out = export([task_runs["translation"]], tmp_path / "export")
    stdin = "\n".join(TEXTS).encode() + b"\n"
    runs = [run_main(translate_main, [r, "--beam-size", "3", "--nbest", "2"], stdin)
            for r in (task_runs["translation"], out)]
    assert runs[0][0] == runs[1][0] == 0, runs[1][2]
    assert runs[1][1] == runs[0][1] and len(runs[0][1].splitlines()) == 6


@pytest.fixture(scope="module")
def two_runs(tokenizer, task_runs, tmp_path_factory) -> list:
    """The shared translation run and another of the same shape (another seed)."""
    root = tmp_path_factory.mktemp("second")
    torch.manual_seed(1)
    second = task_run("translation", root, tokenizer)
    cfg = checkpoint.load(task_runs["translation"] / "checkpoints" / "best.pt")["config"]
    assert cfg["model"] == checkpoint.load(second / "checkpoints" / "best.pt")["config"]["model"]
    return [task_runs["translation"], second]


def test_an_ensemble_export_is_the_ensemble(two_runs, tmp_path):
    status, out, err = run_main(export_main, [*two_runs, tmp_path / "ens"])
    assert status == 0, err
    assert sorted(p.name for p in (tmp_path / "ens" / "members").iterdir()) == ["1", "2"]
    want = seq2seq.load(*two_runs, device="cpu").translate_nbest(TEXTS, beam=3, nbest=2)
    got = seq2seq.load(tmp_path / "ens", device="cpu").translate_nbest(TEXTS, beam=3, nbest=2)
    assert [[t for t, _ in line] for line in got] == [[t for t, _ in line] for line in want]
    assert flat([[s for _, s in line] for line in got]) == pytest.approx(
        flat([[s for _, s in line] for line in want]), abs=1e-5)


def test_an_averaged_export_holds_the_mean_weights(two_runs, tmp_path):
    out = export(two_runs, tmp_path / "mean", average=True)
    from safetensors.torch import load_file
    got = load_file(out / "model.safetensors")
    want = average([r / "checkpoints" / "best.pt" for r in two_runs])["model"]
    assert got.keys() == want.keys()
    for name, tensor in want.items():
        assert torch.equal(got[name], tensor), name
    assert "the mean of the weights of 2 runs" in (out / "README.md").read_text()


def card_header(path) -> dict:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_the_card_holds_the_scores_the_run_measured(smoke_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(smoke_run["run_dir"], run)
    out = export([run], tmp_path / "demo")
    step = checkpoint.load(run / "checkpoints" / "best.pt")["step"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evaluation = [r for r in records if "dev_bleu" in r and r["step"] <= step][-1]
    header = card_header(out / "README.md")
    assert header["library_name"] == "seq2seq" and header["pipeline_tag"] == "translation"
    assert header["language"] == ["es", "en"] and header["license"] == "other"
    metrics = {m["type"]: m for m in header["model-index"][0]["results"][0]["metrics"]}
    assert metrics["bleu"]["value"] == pytest.approx(evaluation["dev_bleu"], abs=1e-4)
    assert metrics["bleu"]["config"] == evaluation["dev_bleu_signature"]
    assert metrics["ppl"]["value"] == pytest.approx(evaluation["dev_ppl"], abs=1e-4)
    text = (out / "README.md").read_text()
    assert f"the evaluation at step {evaluation['step']}" in text
    assert "seq2seq-translate demo" in text and 'seq2seq.load("demo")' in text


class Payload:
    """A pickle that, unpickled, writes a file: what a tampered export would hold."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_in_place_of_the_weights_is_refused_unrun(task_runs, tmp_path):
    out = export([task_runs["translation"]], tmp_path / "export")
    marker = tmp_path / "ran"
    (out / "model.safetensors").write_bytes(pickle.dumps(Payload(marker)))
    torch.save({"model": Payload(marker)}, out / "model.safetensors")  # torch's zip, too
    for tampered in (pickle.dumps(Payload(marker)), (out / "model.safetensors").read_bytes()):
        (out / "model.safetensors").write_bytes(tampered)
        with pytest.raises(ValueError) as exc:
            seq2seq.load(out, device="cpu")
        assert str(exc.value).startswith(f"{out / 'model.safetensors'}: not a safetensors "
                                         "file, refused")
        assert "\n" not in str(exc.value)
        status, _, err = run_main(translate_main, [out], b"Hola .\n")
        assert status != 0 and "not a safetensors file, refused" in err
    assert not marker.exists()


def test_hf_names_resolve_through_a_local_snapshot(task_runs, tmp_path):
    """hf://owner/name is snapshot_download's folder: here a hub cache laid out as the
    library lays it out, read offline (the download is the network's part)."""
    out = export([task_runs["translation"]], tmp_path / "export")
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--demo"
    shutil.copytree(out, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1",
               OMP_NUM_THREADS="1")
    args = ["--beam-size", "3", "--nbest", "2"]
    results = [subprocess.run([console_script("seq2seq-translate"), run, *args],
                              input="\n".join(TEXTS) + "\n", text=True, capture_output=True,
                              env=env, timeout=300)
               for run in (str(task_runs["translation"]), "hf://someone/demo")]
    assert results[1].returncode == 0, results[1].stderr
    assert results[1].stdout == results[0].stdout
    missing = subprocess.run([console_script("seq2seq-translate"), "hf://someone/other"],
                             input="x\n", text=True, capture_output=True, env=env,
                             timeout=300)
    assert missing.returncode != 0
    assert missing.stderr.startswith("seq2seq-translate: error: hf://someone/other: not available "
                                      "from the Hugging Face hub"), missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_every_command_and_the_server_read_an_export_as_the_run(task_runs, tmp_path):
    from seq2seq.cli.serve import build, parse_args
    from seq2seq.tasks.captioning.cli import main as caption_main
    from seq2seq.tasks.classification.cli import main as classify_main
    from seq2seq.tasks.language_model.cli import main as sample_main
    from seq2seq.tasks.tagging.cli import main as tag_main
    image = tmp_path / "image.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (16, 16), dtype=np.uint8)
                    ).save(image)
    stdin = "\n".join(TEXTS).encode() + b"\n"
    for task, main, args, feed in (
            ("classification", classify_main, ["--probs"], stdin),
            ("tagging", tag_main, ["--probs"], stdin),
            ("captioning", caption_main, [image, "--nbest", "2"], b""),
            ("language_model", sample_main, ["--n", "2", "--seed", "4"], b"")):
        out = export([task_runs[task]], tmp_path / task)
        runs = [run_main(main, [r, *args], feed) for r in (task_runs[task], out)]
        assert runs[0][0] == runs[1][0] == 0, (task, runs[1][2])
        assert runs[1][1] == runs[0][1] and runs[0][1].strip(), task
    from fastapi.testclient import TestClient
    with TestClient(build(parse_args([str(tmp_path / "classification"), "--device", "cpu"]))
                    ) as client:
        got = client.post("/runs/classification/classify", json={"texts": TEXTS}).json()
    want = seq2seq.load(task_runs["classification"], device="cpu").predict(TEXTS)
    assert [r["label"] for r in got["results"]] == want


def test_an_ensemble_whose_members_do_not_fit_is_refused_and_nothing_is_left(task_runs,
                                                                            tmp_path):
    other = tmp_path / "other"
    shutil.copytree(task_runs["classification"], other)
    (other / "labels.txt").write_text("pos\nneg\n")  # the same ids, other meanings
    status, _, err = run_main(export_main, [task_runs["classification"], other,
                                            tmp_path / "ens"])
    assert status != 0 and "its labels (pos, neg) differ" in err, err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other"]  # no OUT, no temporary
