"""make bench-scale: preparation and training at the paper's scale, on N-pair corpora built
from the bundled verses (bench/scale_corpus.py), against the bundled corpus itself.

    python bench/scale.py --pairs 1000000 4000000          # what `make bench-scale` runs
    python bench/scale.py --pairs 12000000 40800000 --ranks 8

For each N: seq2seq-prepare (time, per stage, peak RSS, bytes per token on disk), then 300
steps of the demo model (experiment=bible_demo, fp32) in one process and under torchrun:
peak RSS, private (anonymous) memory and the token files' mapped pages apart
(/proc/<pid>/smaps), seconds from start to the first step, steps/s, the share of time spent
waiting for data. Each training process is sampled from outside every half second; results
go to bench/results_scale.{json,md} and a section of bench/results.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from scale_corpus import BUNDLED, build
from seq2seq.data.prepared import PreparedDir

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TOKEN_FILES = re.compile(r"/(train|dev)/(src|tgt)\.(ids|lens|offsets)$")
STEP_LINE = re.compile(
    r"^(\S+ \S+) epoch \S+ step (\d+) \|.*\| (\d+) tgt tokens/s \| data wait ([0-9.]+)%")
PARAMS_LINE = re.compile(r"model: (\d+) parameters")


# ------------------------------------------------------------------ sampling processes
def _kb_fields(path: Path) -> dict[str, int]:
    out = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            out[parts[0][:-1]] = int(parts[1]) * 1024
    return out


def sample(pid: int) -> dict[str, int]:
    """One process's memory now: Rss, private anonymous, peak RSS, token-file pages."""
    rollup = _kb_fields(Path(f"/proc/{pid}/smaps_rollup"))
    status = _kb_fields(Path(f"/proc/{pid}/status"))
    mapped_rss = mapped_pss = 0
    in_tokens = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:  # a mapping's header
            in_tokens = len(head) == 6 and bool(TOKEN_FILES.search(head[5]))
        elif in_tokens and head[0] in ("Rss:", "Pss:"):
            if head[0] == "Rss:":
                mapped_rss += int(head[1]) * 1024
            else:
                mapped_pss += int(head[1]) * 1024
    return {"rss": rollup["Rss"], "anonymous": rollup["Anonymous"], "peak_rss": status["VmHWM"],
            "tokens_rss": mapped_rss, "tokens_pss": mapped_pss}


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def watched(cmd: list[str], workers: int, log: Path) -> dict:
    """Runs cmd; samples its `workers` training processes (itself, or torchrun's children)."""
    start = time.time()
    with open(log.with_suffix(".out"), "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        peaks: dict[int, dict[str, int]] = {}
        while proc.poll() is None:
            try:
                pids = [proc.pid] if workers == 1 else _children(proc.pid)[:workers]
                for pid in pids:
                    now = sample(pid)
                    best = peaks.setdefault(pid, dict(now))
                    for k, v in now.items():
                        best[k] = max(best[k], v)
                    best["anonymous_end"] = now["anonymous"]  # the last sample: steady state
            except (FileNotFoundError, ProcessLookupError, KeyError):
                pass  # a process starting or ending between two reads
            time.sleep(0.5)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): see {log.with_suffix('.out')}")
    return {"start": start, "processes": list(peaks.values())}


# ------------------------------------------------------------------ the measurements
def prepare(corpus: Path, prepared: Path) -> dict:
    cmd = [str(BIN / "seq2seq-prepare"), "experiment=bible_demo", f"data.local_dir={corpus}",
           f"data.prepared_dir={prepared}"]
    shutil.rmtree(prepared, ignore_errors=True)  # measured from scratch every time
    prepared.mkdir(parents=True)
    # datasets' own cache too: the text -> Arrow load is part of what is measured
    os.environ["HF_DATASETS_CACHE"] = str(prepared / "hf-cache")
    start = time.monotonic()
    peak = watched(cmd, 1, prepared / "prepare")["processes"]
    del os.environ["HF_DATASETS_CACHE"]
    seconds = time.monotonic() - start
    out = next(d for d in map(PreparedDir, prepared.iterdir()) if d.settings.is_file())
    meta = json.loads((out.train / "meta.json").read_text())
    tokens = sum(int(np.memmap(out.train / f"{s}.offsets", np.int64, "r")[-1])
                 for s in ("src", "tgt"))
    disk = sum(f.stat().st_size for f in out.train.iterdir())
    return {"seconds": seconds, "stages": json.loads(out.settings.read_text())["seconds"],
            "peak_rss": peak[0]["peak_rss"] if peak else None, "pairs": meta["pairs"],
            "tokens": tokens, "bytes_per_token": disk / tokens, "dir": str(out.root)}


def train(corpus: Path, prepared: Path, run: Path, steps: int, ranks: int) -> dict:
    args = ["experiment=bible_demo", f"data.prepared_dir={prepared}", f"trainer.run_dir={run}",
            f"trainer.max_steps={steps}", "trainer.max_time=null", "trainer.precision=fp32",
            # The final evaluation is not measured: dev BLEU on one sentence only (the
            # translation task always decodes some; trainer.eval_bleu is gone).
            "trainer.log_every=1", "trainer.eval_max_sentences=1", "trainer.tensorboard=false",
            f"data.local_dir={corpus}"]
    if ranks == 1:
        cmd = [str(BIN / "seq2seq-train"), *args]
    else:  # one core per rank: 2 ranks share this machine's cores rather than fight for them
        cmd = [str(BIN / "torchrun"), "--standalone", f"--nproc_per_node={ranks}", "-m",
               "seq2seq.cli.train", *args, "trainer.threads=1"]
    shutil.rmtree(run, ignore_errors=True)  # a fresh run, not a resumed one
    run.mkdir(parents=True)
    seen = watched(cmd, ranks, run / "bench")
    times, speeds, waits, params = {}, {}, [], 0
    for line in (run / "train.log").read_text().splitlines():
        if m := PARAMS_LINE.search(line):
            params = int(m[1])
        if m := STEP_LINE.match(line):
            times[int(m[2])] = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            speeds[int(m[2])] = int(m[3])  # this step's tokens / its seconds (log_every=1)
            waits.append(float(m[4]))
    warm = min(50, steps // 2)
    seconds = times[steps] - times[warm]
    tokens = sum(speeds[k] * (times[k] - times[k - 1]) for k in range(warm + 1, steps + 1))
    procs = seen["processes"]
    return {"ranks": ranks, "parameters": params, "first_step_s": times[1] - seen["start"],
            "steps_per_s": (steps - warm) / seconds, "tokens_per_s": tokens / seconds,
            "data_wait_pct": float(np.mean(waits[warm:])),
            **{k: sum(p[k] for p in procs) for k in ("peak_rss", "anonymous", "anonymous_end",
                                                      "tokens_rss", "tokens_pss")},
            "anonymous_per_rank": [p["anonymous"] for p in procs]}


# ------------------------------------------------------------------ the report
def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares growth of y per unit of x."""
    x, y = np.array(points, dtype=float).T
    return float(np.polyfit(x, y, 1)[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, nargs="+", default=[1_000_000, 4_000_000])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--ranks", type=int, default=2, help="ranks of the torchrun measurement")
    p.add_argument("--work", type=Path, default=Path("/tmp/seq2seq-bench-scale"))
    args = p.parse_args()
    bundled_prep = args.work / "prepared-bundled"
    bundled = {"prepare": prepare(BUNDLED, bundled_prep)}
    bundled_runs = [train(BUNDLED, bundled_prep, args.work / "run-bundled", args.steps, 1)]
    if args.ranks > 1:
        bundled["train_ranks"] = train(BUNDLED, bundled_prep, args.work / "run-bundled-ranks",
                                       args.steps, args.ranks)
    results: dict = {"steps": args.steps, "corpora": {}, "bundled": bundled}
    for n in args.pairs:
        corpus = build(n, args.work / f"corpus-{n}")
        prepared = args.work / f"prepared-{n}"
        r = {"prepare": prepare(corpus, prepared)}
        r["train"] = train(corpus, prepared, args.work / f"run-{n}", args.steps, 1)
        if args.ranks > 1:
            r["train_ranks"] = train(corpus, prepared, args.work / f"run-{n}-ranks{args.ranks}",
                                     args.steps, args.ranks)
        results["corpora"][n] = r
        print(json.dumps({n: r}, indent=1), flush=True)
    # the reference again, last: this VM's speed drifts, so the faster of two runs counts
    bundled_runs.append(train(BUNDLED, bundled_prep, args.work / "run-bundled", args.steps, 1))
    bundled["train"] = max(bundled_runs, key=lambda r: r["tokens_per_s"])
    bundled["train_runs"] = bundled_runs
    from scale_report import write_report  # noqa: E402  (the tables: a module of its own)
    write_report(results, HERE)


if __name__ == "__main__":
    main()
