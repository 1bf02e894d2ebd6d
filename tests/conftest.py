"""Shared fixtures: a slice of the bundled corpus, a tiny sentencepiece tokenizer, tiny
random models, and one real `seq2seq-train debug=smoke` run reused by several modules.

Everything is small enough for one CPU core; nothing touches the network: the Hugging Face
libraries are put offline and given a private cache before `datasets` is first imported.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from itertools import islice
from pathlib import Path
from typing import Callable
from unittest import mock

# Before anything imports `datasets`: offline, and an Arrow cache of our own.
_HF_CACHE = tempfile.mkdtemp(prefix="seq2seq-tests-hf-")
os.environ["HF_DATASETS_CACHE"] = _HF_CACHE
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "1")
# precision=auto measures once per machine and caches it under XDG_CACHE_HOME: a cache of
# the tests' own (inherited by the CLIs they run), never the user's.
_CACHE = tempfile.mkdtemp(prefix="seq2seq-tests-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE

import datasets  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from seq2seq.config.compose import (NO_ENCODER, REPO_ROOT, TEXT_ENCODER, DecoderConfig,  # noqa: E402
                            EncoderConfig, ModelConfig, TrainConfig, load_config)
from seq2seq.data.textfile import read_lines  # noqa: E402
from seq2seq.data.tokenizer import Tokenizer, load_spm, train_spm  # noqa: E402
from seq2seq.models.encoder_decoder import Seq2Seq, build_model  # noqa: E402
from seq2seq.training.hardware import onednn_bf16  # noqa: E402

datasets.disable_progress_bars()
torch.set_num_threads(1)

REPO = REPO_ROOT
CORPUS = REPO / "data" / "bible-es-en"


# Whole files of the integration tier (see pyproject.toml): commands run in fresh
# processes, recipe smokes, DDP, the wheel, the golden replay, old runs end to end.
INTEGRATION = {"test_recipes", "test_distributed", "test_package", "test_golden",
               "test_faults", "test_nothing_lost", "test_old_runs", "test_task_plugin",
               "test_caption_cli", "test_classify_cli", "test_ensemble", "test_lm",
               "test_bench", "test_parts", "test_translate", "test_report", "test_tag_train",
               "test_tagger"}


# The longest files first: two workers (pytest-xdist, a file each at a time) then end
# together rather than one waiting while the other runs the golden replay last.
LONGEST_FIRST = ("test_golden", "test_package", "test_recipes", "test_distributed",
                 "test_task_plugin", "test_faults", "test_nothing_lost", "test_parts")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.stem in INTEGRATION:
            item.add_marker(pytest.mark.integration)
    rank = {stem: i for i, stem in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # stable: else as found


def pytest_unconfigure(config):
    shutil.rmtree(_HF_CACHE, ignore_errors=True)
    shutil.rmtree(_CACHE, ignore_errors=True)


# ------------------------------------------------------------------ helpers
def corpus_lines(split: str, lang: str, n: int, skip: int = 0) -> list[str]:
    """Lines skip..skip+n of a bundled corpus file (only that much is decompressed)."""
    return list(islice(read_lines(CORPUS / f"{split}.{lang}.xz"), skip, skip + n))


def recipe_module(recipe: str, name: str):
    """A recipe's own module (a data builder: recipes/<recipe>/<name>.py), imported."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"{recipe.replace('-', '_')}_{name}",
                                                  REPO / "recipes" / recipe / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def console_script(name: str) -> str:
    """This interpreter's console script (`seq2seq-train` ...): not the first on PATH, which
    may be another environment's."""
    return str(Path(sys.executable).parent / name)


def run_cli(name: str, *args: str, cwd: Path, stdin: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run an installed console script (`seq2seq-train` ...) in a fresh process."""
    exe = console_script(name)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([exe, *map(str, args)], cwd=cwd, input=stdin, text=True,
                          capture_output=True, env=env, timeout=timeout)


def run_main(main: Callable[[list[str]], None], argv: list, stdin: bytes = b""
             ) -> tuple[int, str, str]:
    """A command's `main(argv)` in this process (seconds faster than a fresh one), `stdin`
    as its standard input: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            mock.patch.object(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin))):
        try:
            main([str(a) for a in argv])
            status = 0
        except SystemExit as exc:
            status = exc.code
    return status, out.getvalue(), err.getvalue()


def assert_forced_equals_stepwise(model, batch) -> None:
    """Teacher-forced forward gives the same log-probabilities as decode_step, step by step.

    The forward runs as in training (autograd on: torch's LSTM cell, F.linear), the steps as
    in search (inference mode: oneDNN on packed weights, seq2seq/models/onednn.py), so the two
    implementations check each other.
    """
    import torch.nn.functional as F
    forced = F.log_softmax(model.logits(model(batch.src, batch.tgt_in)), -1).detach()
    with torch.inference_mode():
        state = model.encode(batch.src)
        for t in range(batch.tgt_in.size(1)):
            step, state = model.decode_step(batch.tgt_in[:, t], state)  # (B, V)
            torch.testing.assert_close(forced[:, t], step, atol=1e-5, rtol=0)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# ------------------------------------------------------------------ corpus and tokenizer
@pytest.fixture(scope="session")
def es_en() -> tuple[list[str], list[str]]:
    """400 aligned training verses (Spanish, English) from the bundled corpus."""
    return corpus_lines("train", "es", 400), corpus_lines("train", "en", 400)


@pytest.fixture(scope="session")
def tokenizer(es_en, tmp_path_factory) -> Tokenizer:
    """Unigram sentencepiece models (150 pieces a side) trained on 400 verses."""
    out = tmp_path_factory.mktemp("spm")
    es, en = es_en
    src = train_spm(es, out / "src", vocab_size=150, model_type="unigram")
    tgt = train_spm(en, out / "tgt", vocab_size=150, model_type="unigram")
    return Tokenizer(load_spm(src), load_spm(tgt))


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A local_dir in the bundled layout: train (300), dev (20), test (20) + a 2nd ref."""
    d = tmp_path_factory.mktemp("corpus")
    for split, n in (("train", 300), ("dev", 20), ("test", 20)):
        for lang in ("es", "en"):
            write_lines(d / f"{split}.{lang}", corpus_lines(split, lang, n))
    write_lines(d / "test.en-kjv", corpus_lines("test", "en-kjv", 20))
    return d


@pytest.fixture
def tiny_config(tiny_corpus, tmp_path):
    """A factory: the real composed config, pointed at the tiny corpus and tmp_path."""
    def make(*overrides: str) -> TrainConfig:
        return load_config([f"data.local_dir={tiny_corpus}",
                            f"data.prepared_dir={tmp_path / 'prepared'}",
                            "data.extra_ref_langs=[]",
                            "tokenizer.src_vocab_size=120", "tokenizer.tgt_vocab_size=120",
                            f"trainer.run_dir={tmp_path / 'run'}", *overrides])
    return make


@pytest.fixture(scope="session")
def resnet18_file(tmp_path_factory):
    """A random resnet18's full state dict (fc included), saved as torchvision's are."""
    from seq2seq.tasks.captioning.backbones import import_torchvision
    tv = import_torchvision()
    torch.manual_seed(0)
    model = tv.models.resnet18(weights=None)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(model.state_dict(), path)
    return path, model


def greedy_accuracy(model, batch, targets: list, max_len: int = 10) -> float:
    """The share of `batch`'s sentences whose greedy output is exactly its target (the
    model left in training mode)."""
    from seq2seq.decoding.search import greedy
    model.eval()
    out = [h.ids for h in greedy(model, batch.src, torch.full((len(targets),), max_len))]
    model.train()
    return sum(o == t for o, t in zip(out, targets)) / len(targets)


# ------------------------------------------------------------------ models
@pytest.fixture(params=["onednn", "torch"])
def bf16_kernels(request):
    """Both kernel paths bf16 takes on a CPU, as a context manager (`with bf16_kernels():`).

    Under bf16 autocast oneDNN's LSTM returns bf16, torch's own (oneDNN off: slower, the
    same arithmetic) fp32, so code that assumes either dtype fails one of them. oneDNN's
    path needs AVX-512 (skipped elsewhere); torch's runs on any CPU.
    """
    onednn = request.param == "onednn"
    if onednn and not onednn_bf16():
        pytest.skip("oneDNN cannot build bf16 LSTMs on this CPU")
    return lambda: torch.backends.mkldnn.flags(enabled=onednn)


def model_config(*, emb_dim: int = 8, hidden_dim: int = 16, layers: int = 2,
                 init_range: float = 0.08, dropout: float = 0.0, cell: str = "lstm",
                 encoder: str = "rnn", attention: str = "none", input_feeding: bool = False,
                 encoder_hidden_dim: int | None = None) -> ModelConfig:
    """A ModelConfig as the seq2seq/conf/model files compose it; `encoder`: rnn | birnn | none, or
    the dotted path of an encoder's build function."""
    build = {"none": NO_ENCODER, "rnn": TEXT_ENCODER, "birnn": TEXT_ENCODER}.get(encoder,
                                                                               encoder)
    return ModelConfig(emb_dim=emb_dim, hidden_dim=hidden_dim, layers=layers, dropout=dropout,
                       init_range=init_range, cell=cell,
                       encoder=EncoderConfig(build=build, bidirectional=encoder == "birnn",
                                             hidden_dim=encoder_hidden_dim),
                       decoder=DecoderConfig(attention=attention, input_feeding=input_feeding))


@pytest.fixture
def make_model():
    """A factory for tiny seeded random models, in eval mode."""
    def make(*, src_vocab: int = 11, tgt_vocab: int = 9, seed: int = 0,
             attention: bool = False, language_model: bool = False, **sizes) -> Seq2Seq:
        """`attention`: the options' full model (bidirectional encoder, general attention,
        input feeding) rather than the paper's; `language_model`: no encoder."""
        torch.manual_seed(seed)
        options = (dict(encoder="birnn", attention="general", input_feeding=True)
                   if attention else dict(encoder="none") if language_model else {})
        return build_model(model_config(**sizes, **options), src_vocab, tgt_vocab).eval()
    return make


@pytest.fixture
def tiny_model(make_model, tokenizer) -> Seq2Seq:
    """A random model sized for the shared tokenizer."""
    return make_model(src_vocab=tokenizer.src_vocab_size, tgt_vocab=tokenizer.tgt_vocab_size)


# ------------------------------------------------------------------ one real training run
@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> dict:
    """`seq2seq-train debug=smoke` once, through the real CLI, in a scratch directory.

    Tests that change the run must copy `run_dir` first.
    """
    work = tmp_path_factory.mktemp("smoke")
    run_dir, prepared = work / "run", work / "prepared"
    overrides = ["debug=smoke", f"trainer.run_dir={run_dir}", f"data.prepared_dir={prepared}"]
    result = run_cli("seq2seq-train", *overrides, cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"work": work, "run_dir": run_dir, "prepared_dir": prepared,
            "overrides": overrides, "result": result}


# ------------------------------------------------------------------ a run of every task
TASKS = ("translation", "language_model", "classification", "captioning", "tagging")


def save_run(run_dir: Path, tok, cfg, model, labels: list[str] | None = None) -> Path:
    """A run directory as train.py leaves it (config.yaml, spm/, labels, checkpoints/
    best.pt and last.pt with an optimizer state), built directly: seconds, not a training."""
    from omegaconf import OmegaConf
    from seq2seq.config.compose import config_to_dict
    from seq2seq.training import checkpoint
    from seq2seq.training.rundir import RunDir
    run = RunDir(run_dir)
    checkpoint.write_text_atomic(run.config, OmegaConf.to_yaml(OmegaConf.structured(cfg)))
    (run_dir / "spm").mkdir(parents=True)
    (run_dir / "spm" / "src.model").write_bytes(tok.src.serialized_model_proto())
    (run_dir / "spm" / "tgt.model").write_bytes(tok.tgt.serialized_model_proto())
    if labels is not None:
        write_lines(run.labels, labels)
    state = {"model": model.state_dict(), "config": config_to_dict(cfg),
             "optimizer": torch.optim.SGD(model.parameters(), lr=0.1).state_dict()}
    for name in ("best.pt", "last.pt"):
        checkpoint.save(state, run.checkpoint(name))
    return run_dir


def task_run(task: str, root: Path, tok) -> Path:
    """A tiny random run of `task` (one of TASKS) in root/<task>."""
    from seq2seq.tasks.captioning.encoders import ImageShape, build_caption_model
    from seq2seq.tasks.classification.model import build_classifier
    torch.manual_seed(0)
    sizes = ["debug=smoke", "model.emb_dim=8", "model.hidden_dim=8", "model.layers=1"]
    if task == "classification":
        cfg = load_config(["experiment=sentiment", *sizes])
        return save_run(root / task, tok, cfg, build_classifier(cfg.model, tok.src_vocab_size,
                                                                2), ["neg", "pos"])
    if task == "tagging":
        from seq2seq.tasks.tagging.model import Vocabularies, build_tagger
        cfg = load_config(["experiment=ud_upos", *sizes, "model.encoder.hidden_dim=8",
                           "model.encoder.char_dim=4"])
        model = build_tagger(cfg.model, Vocabularies(tok.src_vocab_size, tok.tgt_vocab_size), 2)
        return save_run(root / task, tok, cfg, model, ["NOUN", "VERB"])
    if task == "captioning":
        cfg = load_config(["experiment=digits_image", *sizes, "data.image_height=12",
                           "data.image_width=12", "model.encoder.cnn_width=4"])
        d = cfg.data
        model = build_caption_model(cfg.model, ImageShape(d.image_channels, d.image_height,
                                                          d.image_width), tok.tgt_vocab_size)
        return save_run(root / task, tok, cfg, model)
    cfg = load_config([*(["experiment=lm_en"] if task == "language_model" else []), *sizes])
    return save_run(root / task, tok, cfg, build_model(cfg.model, tok.src_vocab_size,
                                                       tok.tgt_vocab_size))


@pytest.fixture(scope="session")
def task_runs(tokenizer, tmp_path_factory) -> dict[str, Path]:
    """A tiny random run of every task, built directly (seconds, not a training); tests
    that change one copy it first."""
    root = tmp_path_factory.mktemp("task-runs")
    return {task: task_run(task, root, tokenizer) for task in TASKS}


# ------------------------------------------------------------------ tagged sentences
def tagged_sentences(n: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """A synthetic tagging corpus that needs both spelling and context: numbers are NUM,
    capitalised made-up names CAP (new ones at every seed: only their spelling tells),
    `the`/`a` DET, the lowercase word after a determiner NOUN, other words OTHER."""
    import random
    rng = random.Random(seed)
    words = ["dog", "cat", "runs", "sees", "big", "red", "eats", "fast", "sky", "blue"]
    out = []
    for _ in range(n):
        tokens, tags = [], []
        for _ in range(rng.randint(1, 9)):
            r = rng.random()
            if r < 0.15:
                tokens.append(str(rng.randint(0, 9999)))
                tags.append("NUM")
            elif r < 0.3:
                tokens.append(rng.choice("BCDFGKLMPRST") + "".join(
                    rng.choice("aeiou" + "nrst") for _ in range(rng.randint(2, 6))))
                tags.append("CAP")
            elif r < 0.5:
                tokens.append(rng.choice(["the", "a"]))
                tags.append("DET")
            else:
                tokens.append(rng.choice(words))
                tags.append("NOUN" if tags and tags[-1] == "DET" else "OTHER")
        out.append((tokens, tags))
    return out


def write_conll(path: Path, sentences: list[tuple[list[str], list[str]]]) -> Path:
    """CoNLL columns (index, token, tag), a blank line after each sentence."""
    lines = []
    for tokens, tags in sentences:
        lines += [f"{i}\t{t}\t{g}" for i, (t, g) in enumerate(zip(tokens, tags), start=1)]
        lines.append("")
    return write_lines(path, lines)
