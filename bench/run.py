"""make bench: seq2seq against Joey NMT 2.3.0 on the same work, measured in one run.

    python bench/run.py --joey-python ~/.cache/seq2seq-bench/joeynmt-2.3.0/bin/python

Both toolkits get the same sentencepiece pieces (the demo's 2,000 per side), the same
length-bucketed batches (our bucketing: one source length per batch, at most 64
sentences) and the same model sizes (2 layers, 512 hidden, 256 embeddings, dropout 0.2).
Each measurement is one fresh process (`ours_worker.py`, `joey_worker.py` in Joey's own
environment), so its peak RSS is its own; results go to bench/results.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import datasets
import torch

from seq2seq.config.compose import load_config
from seq2seq.data.prepare import prepare
from seq2seq.data.tokenizer import Tokenizer
from seq2seq.data.tokens import PairArrays
from seq2seq.models.int8 import available as int8_available
from seq2seq.training.hardware import native_bf16

HERE = Path(__file__).resolve().parent
SHAPE = {"hidden": 512, "emb": 256, "layers": 2, "dropout": 0.2}
SENTENCES, SCALING_SENTENCES = 64, (16, 32, 64, 128)
# bf16 as well where the CPU computes it natively (AVX512-BF16, AMX); elsewhere oneDNN has
# no bf16 LSTM, and the bench measures fp32 alone.
PRECISIONS = ("fp32", "bf16") if native_bf16(torch.device("cpu")) else ("fp32",)
# decoding also in int8 (lossy: seq2seq/models/int8.py), where torch has fbgemm
DECODE_PRECISIONS = PRECISIONS + (("int8",) if int8_available() else ())
SPEEDS = ("tokens_per_s", "sentences_per_s", "flops_per_s")  # what a measurement's "best" is


def make_work(path: Path, steps: int) -> dict:
    """Batches as our ids: training batches of epoch 0 and the test set in groups."""
    cfg = load_config(["experiment=bible_demo",
                       f"data.prepared_dir={HERE.parent}/data/prepared/${{data.name}}"])
    prepared = prepare(cfg)
    tok = Tokenizer.load(prepared.spm)
    train = PairArrays(prepared.train)
    work = {"shape": SHAPE, "src_vocab": tok.src_vocab_size, "tgt_vocab": tok.tgt_vocab_size,
            "sentences": SENTENCES}
    for n in SCALING_SENTENCES:
        batches = train.batches(max_tokens=4000, max_sentences=n, seed=1, epoch=0)
        big = [b for b in batches if len(b) == n or n == SENTENCES][: steps]  # full batches
        key = "train" if n == SENTENCES else f"train_{n}"
        work[key] = [tuple(map(list, zip(*(train.pair(i) for i in b)))) for b in big]
    src = tok.encode_source(prepared.test_src.read_text().splitlines())
    order = sorted(range(len(src)), key=lambda i: len(src[i]))
    work["test"] = [[src[i] for i in order[k:k + 64]] for k in range(0, len(order), 64)]
    torch.save(work, path)
    return work


def commit() -> str:
    """The measured code's commit, marked when the working tree differs from it."""
    def git(*args):
        return subprocess.run(["git", "-C", str(HERE), *args], capture_output=True,
                              text=True).stdout.strip()
    sha = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", "../seq2seq")
    return sha + (" (with uncommitted changes)" if changed else "")


def cpu_name() -> str:
    """The CPU's model name (Linux), else what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(python: str, worker: str, *args: str) -> dict:
    started = time.perf_counter()
    out = subprocess.run([python, str(HERE / worker), *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench: {worker} {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 1)
    print(f"  {worker} {' '.join(args[1:])}: {result}", flush=True)
    return result


def best_of(jobs: dict, rounds: int) -> dict:
    """Each job's fastest of `rounds` runs, the jobs alternating forwards and backwards.

    This shared 2-core VM's speed drifts: its matmul rate was 139 GFLOP/s in one run and
    78 in the next, and one training measurement moved by 10% within a run. Measuring Joey
    and us in turn, more than once, and keeping each side's fastest compares the two at
    the machine's speed rather than at the moment's. Peak RSS: the largest of the runs.
    """
    runs: dict = {key: [] for key in jobs}
    for i in range(rounds):
        for key in (list(jobs) if i % 2 == 0 else list(reversed(jobs))):
            runs[key].append(measure(*jobs[key]))
    return {key: {**max(results, key=speed), "rounds": [round(speed(x), 3) for x in results],
                  "peak_rss_mb": max(x["peak_rss_mb"] for x in results)}
            for key, results in runs.items()}


def speed(result: dict) -> float:
    return next(result[k] for k in SPEEDS if k in result)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--joey-python", required=True)
    p.add_argument("--steps", type=int, default=10, help="timed training steps")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps before them")
    p.add_argument("--out", type=Path, default=HERE)
    p.add_argument("--rounds", type=int, default=2,
                   help="alternating rounds of each comparison; each side keeps its best")
    args = p.parse_args()
    datasets.disable_progress_bars()
    work_path = args.out / "work.pt"
    make_work(work_path, args.warmup + args.steps)
    w = str(work_path)
    steps = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    ours, joey = sys.executable, args.joey_python
    started = time.perf_counter()
    r: dict = {"machine": f"{cpu_name()} ({torch.backends.cpu.get_cpu_capability()}), "
                          f"{torch.get_num_threads()} threads, torch {torch.__version__}",
               "commit": commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "rounds": args.rounds}
    print("training", flush=True)
    jobs = {"joey_train": (joey, "joey_worker.py", w, "train", *steps)}
    fast = PRECISIONS[-1]  # the paper model's, and the one the growth rows measure
    for precision in PRECISIONS:
        for kind in ("same", "paper"):
            jobs[f"ours_train_{kind}_{precision}"] = (
                ours, "ours_worker.py", w, "train", "--model", kind, "--precision", precision,
                *steps)
        jobs[f"matmul_{precision}"] = (ours, "ours_worker.py", w, "matmul",
                                       "--precision", precision)
    r.update(best_of(jobs, args.rounds))
    print("decoding", flush=True)
    for beam in (1, 5):
        jobs = {f"joey_decode_beam{beam}": (joey, "joey_worker.py", w, "decode",
                                            "--beam", str(beam))}
        for precision in DECODE_PRECISIONS:
            jobs[f"ours_decode_beam{beam}_{precision}"] = (
                ours, "ours_worker.py", w, "decode", "--beam", str(beam),
                "--precision", precision)
        r.update(best_of(jobs, args.rounds))
    print("attention kept or not", flush=True)  # the same model, alternating
    for beam in (1, 5):
        args_ = (ours, "ours_worker.py", w, "decode", "--beam", str(beam), "--precision", "fp32")
        r.update(best_of({f"plain_decode_beam{beam}": args_,
                          f"attention_decode_beam{beam}": (*args_, "--attention")}, args.rounds))
    print("how cost grows", flush=True)
    for n in SCALING_SENTENCES:
        r[f"ours_train_paper_{fast}_{n}"] = measure(
            ours, "ours_worker.py", w, "train", "--model", "paper", "--precision", fast,
            "--sentences", str(n), *steps)
    for beam in (2, 12):
        r[f"ours_decode_beam{beam}_{fast}"] = measure(ours, "ours_worker.py", w, "decode",
                                                      "--beam", str(beam), "--precision", fast)
    r["wall_min"] = (time.perf_counter() - started) / 60
    report(r, args.out)
    work_path.unlink()


def measured_precisions(r: dict) -> list[str]:
    """fp32, and bf16 when the machine had it: the last is the paper model's."""
    return [p for p in ("fp32", "bf16") if f"matmul_{p}" in r]


def report(r: dict, out: Path) -> None:
    """Ratios ours/Joey: each of our sides at its faster precision (fp32 listed beside)."""
    precisions = measured_precisions(r)
    def faster(prefix, key):
        return max(precisions, key=lambda p: r[f"{prefix}_{p}"][key])
    best = faster("ours_train_same", "tokens_per_s")
    dec = faster("ours_decode_beam5", "sentences_per_s")
    joey_tps = r["joey_train"]["tokens_per_s"]
    fast = precisions[-1]
    paper = r[f"ours_train_paper_{fast}"]
    def decode_ratio(beam, precision):
        return (r[f"ours_decode_beam{beam}_{precision}"]["sentences_per_s"]
                / r[f"joey_decode_beam{beam}"]["sentences_per_s"])
    ratios = {
        "train_ratio_same_math": r[f"ours_train_same_{best}"]["tokens_per_s"] / joey_tps,
        "train_ratio_same_math_fp32": r["ours_train_same_fp32"]["tokens_per_s"] / joey_tps,
        "train_ratio_paper": paper["tokens_per_s"] / joey_tps,
        "decode_ratio_beam5": decode_ratio(5, dec),
        "decode_ratio_greedy": decode_ratio(1, dec),
        "decode_ratio_beam5_fp32": decode_ratio(5, "fp32"),
        "decode_ratio_greedy_fp32": decode_ratio(1, "fp32"),
        "rss_ratio_train": (r[f"ours_train_same_{best}"]["peak_rss_mb"]
                            / r["joey_train"]["peak_rss_mb"]),
        "rss_ratio_decode": (r[f"ours_decode_beam5_{dec}"]["peak_rss_mb"]
                             / r["joey_decode_beam5"]["peak_rss_mb"]),
        "mfu": paper["flops_per_s"] / r[f"matmul_{fast}"]["flops_per_s"],
        "mfu_same_math": (r[f"ours_train_same_{best}"]["flops_per_s"]
                          / r[f"matmul_{best}"]["flops_per_s"]),
        "mfu_fp32": (r["ours_train_paper_fp32"]["flops_per_s"]
                     / r["matmul_fp32"]["flops_per_s"]),
        "mfu_greedy_fp32": (r["ours_decode_beam1_fp32"]["search_flops_per_s"]
                            / r["matmul_fp32"]["flops_per_s"]),
    }
    r["ratios"] = {k: round(v, 3) for k, v in ratios.items()}
    r["same_math_precision"], r["decode_precision"] = best, dec
    (out / "results.json").write_text(json.dumps(r, indent=1) + "\n")
    (out / "results.md").write_text(markdown(r))
    print(json.dumps(r["ratios"], indent=1))


def markdown(r: dict) -> str:
    q, best, dec = r["ratios"], r["same_math_precision"], r["decode_precision"]
    fast = measured_precisions(r)[-1]
    lines = ["# Benchmark: seq2seq against Joey NMT 2.3.0\n",
             f"Machine: {r['machine']}. Commit {r['commit']}, {r['date']}; `make bench` "
             f"took {r['wall_min']:.1f} min. Joey runs fp32 (it offers half precision on "
             f"GPUs only). Each side of a comparison: the fastest of {r.get('rounds', 1)} "
             f"alternating runs.\n",
             "| measure | ours | Joey | ratio |", "| --- | --- | --- | --- |"]
    def row(name, ours, joey, ratio, unit):
        lines.append(f"| {name} | {ours:,.1f} {unit} | {joey:,.1f} {unit} | {ratio:.2f} |")
    joey_train = r["joey_train"]["tokens_per_s"]
    for p in dict.fromkeys((best, "fp32")):
        row(f"training, same model ({p})", r[f"ours_train_same_{p}"]["tokens_per_s"],
            joey_train, r[f"ours_train_same_{p}"]["tokens_per_s"] / joey_train, "tgt tok/s")
    row(f"training, paper model ({fast}) vs Joey's", r[f"ours_train_paper_{fast}"]["tokens_per_s"],
        joey_train, q["train_ratio_paper"], "tgt tok/s")
    for beam, name in ((5, "beam 5"), (1, "greedy")):
        joey = r[f"joey_decode_beam{beam}"]["sentences_per_s"]
        for p in dict.fromkeys((dec, "fp32", "int8")):
            if f"ours_decode_beam{beam}_{p}" in r:
                ours = r[f"ours_decode_beam{beam}_{p}"]["sentences_per_s"]
                row(f"decoding, {name} ({p})", ours, joey, ours / joey, "sent/s")
    row(f"peak RSS, training ({best})", r[f"ours_train_same_{best}"]["peak_rss_mb"],
        r["joey_train"]["peak_rss_mb"], q["rss_ratio_train"], "MB")
    row(f"peak RSS, decoding beam 5 ({dec})", r[f"ours_decode_beam5_{dec}"]["peak_rss_mb"],
        r["joey_decode_beam5"]["peak_rss_mb"], q["rss_ratio_decode"], "MB")
    fp32 = ("" if fast == "fp32" else f"; fp32: {q['mfu_fp32']:.0%} of "
            f"{r['matmul_fp32']['flops_per_s'] / 1e9:.0f} GFLOP/s")
    lines += ["", f"Model FLOP utilisation of the paper model's training step: "
              f"{q['mfu']:.0%} of measured {fast} matmul peak "
              f"({r[f'matmul_{fast}']['flops_per_s'] / 1e9:.0f} GFLOP/s){fp32}. "
              f"The same-math model's ({best}): {q['mfu_same_math']:.0%} (its decoder "
              "steps one target position at a time: input feeding).", ""]
    lines += [ceiling(r, best), "", greedy_ceiling(r), ""]
    joey_len = r["joey_decode_beam5"].get("mean_output_pieces")
    if joey_len:
        ours_len = r[f"ours_decode_beam5_{dec}"]["mean_output_pieces"]
        lines += [f"Output pieces per sentence (these random models write to the length "
                  f"limit): ours {ours_len:.1f}, Joey's {joey_len:.1f}. Both stop at 1.5 x "
                  f"the source length; ours per sentence (as fairseq's max_len_a), Joey's "
                  f"per batch (1.5 x its longest source).", ""]
    lines += attention_cost(r)
    if fast == "fp32":
        lines += ["This CPU has no native bf16 (AVX512-BF16 or AMX): fp32 only.", ""]
    return "\n".join(lines + growth(r, fast))


def attention_cost(r: dict) -> list[str]:
    """Decoding speed with each hypothesis's attention kept, against without it."""
    kept = []
    for beam, name in ((1, "greedy"), (5, "beam 5")):
        if f"plain_decode_beam{beam}" in r:
            on, off = (r[f"{k}_decode_beam{beam}"]["sentences_per_s"]
                       for k in ("attention", "plain"))
            kept.append(f"{name} {on:,.1f} against {off:,.1f} sent/s ({on / off:.2f})")
    if not kept:
        return []
    return ["Keeping each hypothesis's attention (`--alignment`, `--attention-png`; the same "
            "model, fp32, alternating runs): " + "; ".join(kept) + ". Not asked for, the "
            "search keeps nothing.", ""]


def ceiling(r: dict, best: str) -> str:
    """What 2x Joey on its own model asks of this machine: the counted FLOP/s of our step
    at twice Joey's tokens/s, against the measured matmul peak."""
    ours = r[f"ours_train_same_{best}"]
    needed = 2 * r["joey_train"]["tokens_per_s"] * ours["flops_per_s"] / ours["tokens_per_s"]
    peak = r[f"matmul_{best}"]["flops_per_s"]
    return (f"Twice Joey's training speed on its own model would take {needed / 1e9:.0f} "
            f"GFLOP/s of this step's matrix work ({best}), {needed / peak:.0%} of the "
            f"measured matmul peak (Joey's own step reaches "
            f"{needed / 2 / peak:.0%} of that peak).")


def greedy_ceiling(r: dict) -> str:
    """What 3x Joey's greedy search (fp32) asks of this machine, as `ceiling` does."""
    ours, theirs = r["ours_decode_beam1_fp32"], r["joey_decode_beam1"]
    needed = 3 * theirs["sentences_per_s"] * ours["search_flops_per_s"] / ours["sentences_per_s"]
    peak = r["matmul_fp32"]["flops_per_s"]
    return (f"Three times Joey's greedy decoding (fp32) would take {needed / 1e9:.0f} GFLOP/s "
            f"of the search's matrix work, {needed / peak:.0%} of the measured matmul peak "
            f"over the whole search, encoder included; ours runs at "
            f"{r['ratios']['mfu_greedy_fp32']:.0%} of it, Joey's at about "
            f"{needed / 3 / peak:.0%} (counted on our work; Joey's writes "
            f"{theirs['mean_output_pieces']:.1f} pieces a sentence to our "
            f"{ours['mean_output_pieces']:.1f}).")


def growth(r: dict, fast: str) -> list[str]:
    """How cost grows with batch size, beam and sentence length, and whether as expected."""
    tps = [r[f"ours_train_paper_{fast}_{n}"]["tokens_per_s"] for n in SCALING_SENTENCES]
    beams = (1, 2, 5, 12)
    ms = [1000 / r[f"ours_decode_beam{b}_{fast}"]["sentences_per_s"] for b in beams]
    groups = full_groups(r[f"ours_decode_beam5_{fast}"]["groups"])
    lengths = length_buckets(groups)
    beam_fit = linear_fit(beams[1:], ms[1:])
    # A batch searches until its longest sentence ends: its cost follows that length.
    length_fit = linear_fit([longest for _, longest, _, _ in groups],
                            [1000 * t for _, _, t, _ in groups])
    return [
        f"Training tokens/s against sentences per batch (paper model, {fast}): "
        + ", ".join(f"{n}: {t:,.0f}" for n, t in zip(SCALING_SENTENCES, tps))
        + f" -- larger batches make larger matrix products, up to {max(tps):,.0f} tok/s.",
        "",
        f"Decoding milliseconds per sentence against beam ({fast}): "
        + ", ".join(f"{b}: {m:.1f}" for b, m in zip(beams, ms))
        + f". From beam 2 on, {beam_fit}.",
        "",
        f"Beam-5 decoding milliseconds per sentence against source length (pieces), over "
        f"the {len(groups)} full batches of {groups[0][3]} sentences (by mean length): "
        + ", ".join(f"{lo}-{hi}: {m:.1f}" for lo, hi, m in lengths)
        + f"; against each batch's longest source, {length_fit}.", ""]


def full_groups(groups: list) -> list:
    """The decode batches of the full size: a last, smaller one is no per-sentence cost."""
    size = max(n for *_, n in groups)
    return [g for g in groups if g[-1] == size]


def linear_fit(xs: list, ys: list) -> str:
    """'linear (...)' when a straight line explains the points (R^2 >= 0.95), else says so."""
    if len(xs) < 3:
        return f"too few points ({len(xs)}) to tell"
    n, mx, my = len(xs), sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    resid = sum((y - my - slope * (x - mx)) ** 2 for x, y in zip(xs, ys))
    total = sum((y - my) ** 2 for y in ys) or 1e-12
    r2 = 1 - resid / total
    verdict = "linear, as expected" if r2 >= 0.95 else "NOT linear: investigate"
    return (f"{verdict} (least-squares line {my - slope * mx:.1f} + {slope:.2f} per unit, "
            f"R^2 {r2:.3f}, {n} points)")


def length_buckets(groups: list, edges=(1, 11, 21, 41, 1000)) -> list:
    """(low, high, ms per sentence) of the decode groups whose mean length falls in each."""
    out = []
    for lo, hi in zip(edges, edges[1:]):
        times = [t for mean, _, t, _ in groups if lo <= mean < hi]
        if times:
            out.append((lo, hi - 1, 1000 * sum(times) / len(times)))
    return out


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    main()
