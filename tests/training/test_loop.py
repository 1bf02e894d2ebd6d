"""The training loop: schedule, clipping, learning a synthetic task, the real CLI, resuming."""
from __future__ import annotations

import json
import logging
import math
import random
import re
import shutil

import pytest
import torch
from omegaconf import OmegaConf

from seq2seq.config.compose import ConfigError, config_from_dict, load_config
from seq2seq.data.corpus import collate
from seq2seq.data.tokenizer import EOS
from seq2seq.models.encoder_decoder import build_model
from seq2seq.tasks import token_loss
from seq2seq.training import checkpoint
from seq2seq.training.loop import train
from seq2seq.training.optim import clip_gradients, paper_lr

from conftest import greedy_accuracy, model_config, run_cli


# ------------------------------------------------------------------ schedule and clipping
def reference_lr(epoch: float, lr: float = 0.7) -> float:
    """Section 3.4, read literally: "after 5 epochs, we begun halving the learning rate
    every half epoch" -- one halving at each of 5.0, 5.5, 6.0, ... that has been reached."""
    halvings, mark = 0, 5.0
    while mark <= epoch:
        halvings, mark = halvings + 1, mark + 0.5
    return lr / 2 ** halvings


@pytest.mark.parametrize("epoch,expected", [(0, 0.7), (4.9, 0.7), (5.0, 0.35), (5.5, 0.175),
                                            (6.0, 0.0875), (7.4, 0.7 * 0.5 ** 5)])
def test_paper_lr(epoch, expected):
    got = paper_lr(epoch, lr=0.7, halve_after=5, halve_every=0.5)
    assert got == pytest.approx(expected, rel=1e-12)
    assert got == pytest.approx(reference_lr(epoch), rel=1e-12)


def test_paper_lr_follows_the_reference_on_a_grid():
    for i in range(0, 751):
        epoch = i / 100
        assert paper_lr(epoch, lr=0.7, halve_after=5, halve_every=0.5) == pytest.approx(
            reference_lr(epoch), rel=1e-12), epoch


def _params_with_grad(norm: float) -> list[torch.nn.Parameter]:
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.zeros(3, 4)), torch.nn.Parameter(torch.zeros(5))]
    grads = [torch.randn(3, 4), torch.randn(5)]
    total = math.sqrt(sum(float(g.pow(2).sum()) for g in grads))
    for p, g in zip(params, grads):
        p.grad = g * (norm / total)
    return params


def _norm(params) -> float:
    return math.sqrt(sum(float(p.grad.pow(2).sum()) for p in params))


def test_clip_gradients_scales_a_large_gradient_to_the_limit():
    params = _params_with_grad(10.0)
    before = [p.grad.clone() for p in params]
    assert clip_gradients(params, 5.0) == pytest.approx(10.0, rel=1e-6)
    assert _norm(params) == pytest.approx(5.0, rel=1e-6)
    for p, g in zip(params, before):  # the direction is kept: g <- 5 g / ||g||
        torch.testing.assert_close(p.grad, g * 0.5, rtol=1e-6, atol=0)


def test_clip_gradients_leaves_a_small_gradient_alone():
    params = _params_with_grad(3.0)
    before = [p.grad.clone() for p in params]
    assert clip_gradients(params, 5.0) == pytest.approx(3.0, rel=1e-6)
    assert all(torch.equal(p.grad, g) for p, g in zip(params, before))


# ------------------------------------------------------------------ it learns
# copying (the easier one) with make test-all: reversal is the paper's case
@pytest.mark.parametrize("task", [pytest.param("copy", marks=pytest.mark.slow), "reverse"])
def test_model_learns_a_synthetic_task(task):
    """Random sequences of tokens 4..11, length 3-6. The encoder reads the source reversed
    (as encode_source gives it); the target is the source (copy) or the source reversed.
    Trained with the library's batches and loss, checked by greedy decoding on new data."""
    torch.manual_seed(0)
    rng = random.Random(0)

    def sample(n):
        xs = [[rng.randint(4, 11) for _ in range(rng.randint(3, 6))] for _ in range(n)]
        targets = xs if task == "copy" else [x[::-1] for x in xs]
        return collate([x[::-1] + [EOS] for x in xs], targets), targets

    model = build_model(model_config(emb_dim=32, hidden_dim=64, layers=1), 12, 12)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    test_batch, test_targets = sample(200)

    def accuracy() -> float:
        return greedy_accuracy(model, test_batch, test_targets)

    assert accuracy() < 0.05  # untrained: the task is not trivially solved
    acc = 0.0
    for step in range(1, 1501):
        b, _ = sample(64)
        loss = token_loss(model, b) / b.n_tokens
        opt.zero_grad()
        loss.backward()
        clip_gradients(list(model.parameters()), 5.0)
        opt.step()
        if step % 100 == 0 and (acc := accuracy()) >= 0.97:
            break
    assert acc >= 0.95


# ------------------------------------------------------------------ the real CLI
def test_smoke_run_writes_everything_translate_needs(smoke_run):
    run_dir = smoke_run["run_dir"]
    for name in ("config.yaml", "spm/src.model", "spm/tgt.model", "checkpoints/last.pt",
                 "checkpoints/best.pt", "train.log", "metrics.jsonl", "translations/dev.hyp"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    log = (run_dir / "train.log").read_text()
    assert "step 6 " in log and "BLEU" in log and "version:" in log
    last = checkpoint.load(run_dir / "checkpoints" / "last.pt")
    assert last["step"] == 6  # debug=smoke: trainer.max_steps=6
    # The stored config is the composed one.
    cfg = load_config(smoke_run["overrides"])
    assert config_from_dict(last["config"]) == cfg
    assert config_from_dict(OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"))) \
        == cfg


def test_running_again_resumes(smoke_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run["run_dir"], run_dir)
    overrides = ["debug=smoke", f"trainer.run_dir={run_dir}",
                 f"data.prepared_dir={smoke_run['prepared_dir']}", "trainer.max_steps=8"]
    result = run_cli("seq2seq-train", *overrides, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (run_dir / "train.log").read_text()
    assert "resumed" in log and "(step 6)" in log
    assert "reused" in log  # the prepared data, not prepared again
    assert checkpoint.load(run_dir / "checkpoints" / "last.pt")["step"] == 8


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_resuming_gives_the_same_model_as_not_stopping(smoke_run, tmp_path, precision):
    """Steps 1-6 in one go == steps 1-3, stop, resume, steps 4-6 (dropout on: RNG too;
    fp16: the loss scale too)."""
    def cfg(run: str, steps: int):
        return load_config(["debug=smoke", f"trainer.run_dir={tmp_path / run}",
                            f"data.prepared_dir={smoke_run['prepared_dir']}",
                            "model.dropout=0.3", f"trainer.max_steps={steps}",
                            f"trainer.precision={precision}"])

    with cpu_fp16(precision):
        train(cfg("straight", 6))
        train(cfg("stopped", 3))
        assert checkpoint.load(tmp_path / "stopped" / "checkpoints" / "last.pt")["step"] == 3
        train(cfg("stopped", 6))
    a = checkpoint.load(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = checkpoint.load(tmp_path / "stopped" / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 6
    assert a["scaler"] == b["scaler"] and bool(a["scaler"]) == (precision == "fp16")
    assert a["model"].keys() == b["model"].keys()
    for name in a["model"]:
        torch.testing.assert_close(a["model"][name], b["model"][name], rtol=0, atol=0)


@pytest.mark.parametrize("schedule_over", ["epochs", "budget"])
def test_the_schedule_follows_epochs_or_the_budget(smoke_run, tmp_path, caplog,
                                                   schedule_over):
    """optim.schedule_over=budget lays the schedule over whichever budget ends training
    first (here 8 steps): step k runs at paper_lr(epochs * (k - 1) / 8), so with halving
    after half of 10 epochs the last four steps halve; over epochs (a few hundredths of
    one epoch done) the lr never moves."""
    caplog.set_level(logging.INFO)
    train(load_config([
        "debug=smoke", f"trainer.run_dir={tmp_path / 'run'}",
        f"data.prepared_dir={smoke_run['prepared_dir']}", "trainer.max_steps=8",
        "trainer.log_every=1", "optim.epochs=10", "optim.halve_after=5",
        "optim.halve_every=1.25", f"optim.schedule_over={schedule_over}"]))
    lrs = [float(m) for m in re.findall(r"\| lr ([0-9.e-]+) \|", caplog.text)]
    if schedule_over == "budget":
        expected = [paper_lr(10 * k / 8, lr=0.7, halve_after=5, halve_every=1.25)
                    for k in range(8)]
        assert expected == [0.7] * 4 + [0.35, 0.175, 0.0875, 0.04375]
    else:
        expected = [0.7] * 8
    assert lrs == pytest.approx(expected, rel=1e-3)


def test_real_cli_loss_curve_goes_down(smoke_run, tmp_path):
    """60 paper-recipe SGD steps on the bundled corpus. Reference: a uniform guess over the
    V target pieces (loss ln V, perplexity V), about where a model initialised in +-0.08
    starts; after training, loss and dev perplexity must be clearly below it."""
    run_dir = tmp_path / "run"
    result = run_cli("seq2seq-train", "debug=smoke", f"trainer.run_dir={run_dir}",
                     f"data.prepared_dir={smoke_run['prepared_dir']}", "trainer.max_steps=60",
                     "trainer.log_every=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (run_dir / "train.log").read_text()
    losses = [float(m) for m in re.findall(r"loss/token ([0-9.]+)", log)]
    assert len(losses) == 30
    uniform = math.log(load_config(smoke_run["overrides"]).tokenizer.tgt_vocab_size)
    late = sum(losses[-5:]) / 5
    assert late < losses[0] and late < uniform - 0.5
    dev_ppl = float(re.findall(r"dev ppl ([0-9.]+)", log)[-1])
    assert dev_ppl < math.exp(uniform) / 2


def cpu_fp16(precision: str):
    """fp16 is meant for GPUs; on a CPU it runs on torch's native kernels once oneDNN
    (which has no fp16 LSTM here) is off: how these tests check the loss-scale logic."""
    return torch.backends.mkldnn.flags(enabled=precision != "fp16")


def test_fp16_training_learns_with_a_loss_scale(smoke_run, tmp_path):
    """trainer.precision=fp16 (for GPUs without bf16): autocast to fp16 with GradScaler;
    the model learns as in fp32 (dev perplexity far below a uniform guess)."""
    cfg = load_config(["debug=smoke", f"trainer.run_dir={tmp_path / 'run'}",
                       f"data.prepared_dir={smoke_run['prepared_dir']}",
                       "trainer.max_steps=40", "trainer.log_every=2", "trainer.precision=fp16"])
    with pytest.raises(ConfigError, match="trainer.precision"):
        train(cfg)  # oneDNN on: refused at once, in one line
    with cpu_fp16("fp16"):
        run = train(cfg)
    assert run.scaler.is_enabled() and run.step == 40
    records = map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())
    evals = [r for r in records if "dev_ppl" in r]  # not the training records
    uniform = cfg.tokenizer.tgt_vocab_size  # the perplexity of a uniform guess
    assert evals[-1]["dev_ppl"] < uniform / 2
