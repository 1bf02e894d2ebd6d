"""The paper's own model size: how long its WMT'14 run would take on this device.

    python bench/paper_size.py [--device cuda] [--sentences 128] [--record] [OVERRIDE ...]

`experiment=sutskever2014` as configured (4 x 1000 LSTMs, 1,000-dim embeddings, 160k / 80k
word vocabularies, batches of 128 sentences), trained on synthetic batches of WMT'14's mean
sentence length (348M French words in 12M pairs: 29 words, plus eos), with the training
step of `seq2seq-train` in fp32 and, where the device has it natively, bf16; beam-12 search
over 30-word outputs. Prints the figures and the expected wall time of the paper's 7.5
epochs, and appends them to docs/benchmarks.md with --record. On CUDA it also samples the
GPU's utilisation.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from seq2seq.config.compose import load_config
from seq2seq.data.corpus import collate
from seq2seq.data.sources import Source
from seq2seq.decoding.search import beam_search
from seq2seq.models.encoder_decoder import build_model
from seq2seq.tasks import Objective, build_task
from seq2seq.training.distributed import Ranks
from seq2seq.training.hardware import autocast, native_bf16
from seq2seq.training.optim import build_optimizer, gradients

ROOT = Path(__file__).resolve().parent.parent
WMT14_TARGET_TOKENS = 348e6 + 12e6  # French words + one eos per sentence (paper, 3.1)
EPOCHS = 7.5  # paper, 3.4
# Paper, 3.5: "6,300 (both English and French) words per second", about ten days on 8 GPUs;
# the French (target) share of that: 348M of the 652M words.
PAPER_TARGET_WORDS_PER_S = 6300 * 348 / (348 + 304)
LENGTH = 29


def batch(n: int, src_vocab: int, tgt_vocab: int, gen: torch.Generator):
    src = torch.randint(4, src_vocab, (n, LENGTH), generator=gen).tolist()
    tgt = torch.randint(4, tgt_vocab, (n, LENGTH), generator=gen).tolist()
    return collate(src, tgt)


def flops_per_target_token(model) -> float:
    """Matmul FLOPs of training per target token (source as long as target, as here):
    forward 2 per multiply-add of every LSTM weight and the output layer, backward twice."""
    def lstm(rnn):
        return sum(w.numel() for name, w in rnn.named_parameters() if name.startswith("weight"))
    return 3 * 2 * (lstm(model.encoder.rnn) + lstm(model.decoder.rnn)
                    + model.decoder.out.weight.numel())


def utilisation(device: torch.device) -> float | None:
    try:
        return float(torch.cuda.utilization(device)) if device.type == "cuda" else None
    except Exception:  # no NVML: utilisation is not available, the speed still is
        return None


def train(model, task, device, precision: str, sentences: int, steps: int) -> dict:
    loss_fn, params = Objective(model, task), list(model.parameters())
    opt = build_optimizer("sgd", params, 0.7)
    gen = torch.Generator().manual_seed(1)
    tokens, busy, start = 0, [], 0.0
    for i in range(steps + 1):  # the first step warms up (allocator, kernels)
        if i == 1:
            sync(device)
            tokens, start = 0, time.perf_counter()
        b = batch(sentences, model.encoder.embed.num_embeddings,
                  model.decoder.out.out_features, gen)
        gradients(loss_fn, b.to(device), params, Ranks(), loss_per="sentence",
                  clip_norm=5.0, autocast=autocast(device, precision))
        opt.step()
        tokens += b.n_tokens
        busy.append(utilisation(device))
    sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    util = [u for u in busy[1:] if u is not None]
    return {"tokens_per_s": tokens / seconds, "gpu_util": sum(util) / len(util) if util else None,
            "peak_gib": peak}


@torch.inference_mode()
def decode(model, device, sentences: int, beam: int, precision: str) -> dict:
    model.eval()
    gen = torch.Generator().manual_seed(2)
    b = batch(sentences, model.encoder.embed.num_embeddings, model.decoder.out.out_features,
              gen)
    src = b.src.to(device)
    max_len = torch.full_like(src.lens, 30)  # an untrained model rarely ends: 30 words each
    with autocast(device, precision):
        beam_search(model, Source(src.values[:2], src.lens[:2]), max_len[:2],
                    beam_size=beam)  # warm-up
        sync(device)
        start = time.perf_counter()
        beam_search(model, src, max_len, beam_size=beam)
        sync(device)
    return {"sentences_per_s": sentences / (time.perf_counter() - start), "precision": precision}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def days(tokens_per_s: float) -> float:
    return EPOCHS * WMT14_TARGET_TOKENS / tokens_per_s / 86400


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--sentences", type=int, default=128, help="a training batch (paper: 128)")
    p.add_argument("--steps", type=int, default=10, help="timed training steps")
    p.add_argument("--decode-sentences", type=int, default=128)
    p.add_argument("--record", action="store_true", help="append to docs/benchmarks.md")
    p.add_argument("overrides", nargs="*", help="config overrides (tests shrink the model)")
    args = p.parse_args()
    device = torch.device(args.device)
    cfg = load_config(["experiment=sutskever2014", *args.overrides])
    torch.manual_seed(1)
    model = build_model(cfg.model, 160_000, 80_000).to(device)  # the paper's vocabularies
    # translation: only its loss runs, so no tokenizer and no prepared data
    task = build_task(cfg, tokenizer=None, prepared=None)
    r = {"device": torch.cuda.get_device_name(device) if device.type == "cuda"
         else f"CPU, {torch.get_num_threads()} threads", "torch": torch.__version__,
         "sentences": args.sentences, "length": LENGTH}
    precisions = ("fp32", "bf16") if native_bf16(device) else ("fp32",)
    r["tflop_per_target_token"] = flops_per_target_token(model) / 1e12
    for precision in precisions:
        t = r[f"train_{precision}"] = train(model.train(), task, device, precision,
                                            args.sentences, args.steps)
        t["tflop_per_s"] = t["tokens_per_s"] * r["tflop_per_target_token"]
    r["decode_beam12"] = decode(model, device, args.decode_sentences, 12, precisions[-1])
    best = max(r[f"train_{p}"]["tokens_per_s"] for p in precisions)
    r["days_for_7.5_epochs"] = days(best)
    r["paper_days_on_8_gpus"] = days(PAPER_TARGET_WORDS_PER_S)
    print(json.dumps(r, indent=1))
    if args.record:
        with open(ROOT / "docs" / "benchmarks.md", "a") as f:
            f.write(summary(r))


def summary(r: dict) -> str:
    def row(precision):
        t = r[f"train_{precision}"]
        extra = "" if t["gpu_util"] is None else f", GPU busy {t['gpu_util']:.0f}%"
        mem = "" if t["peak_gib"] is None else f", peak {t['peak_gib']:.1f} GiB"
        return (f"- training, {precision}: {t['tokens_per_s']:,.0f} target tokens/s "
                f"({t['tflop_per_s']:.2f} TFLOP/s){extra}{mem}")
    return "\n".join([
        f"\n## {r['device']} (torch {r['torch']}, {time.strftime('%Y-%m-%d')})\n",
        f"Paper-size model, batches of {r['sentences']} sentences of {r['length']} words "
        f"({r['tflop_per_target_token'] * 1e6:.0f} MFLOP of training per target token):\n",
        *[row(p) for p in ("fp32", "bf16") if f"train_{p}" in r],
        f"- beam-12 search ({r['decode_beam12']['precision']}): "
        f"{r['decode_beam12']['sentences_per_s']:,.2f} "
        "sentences/s (30-word outputs)",
        f"- the paper's 7.5 epochs ({EPOCHS * WMT14_TARGET_TOKENS / 1e9:.1f}B target tokens) "
        f"at the faster rate: {r['days_for_7.5_epochs']:,.1f} days on this device "
        f"(the paper: {r['paper_days_on_8_gpus']:.1f} days at its 6,300 English and French "
        "words/s on 8 GPUs)", ""])


if __name__ == "__main__":
    main()
