"""The server under load: 32 clients each sending one sentence at a time for a minute,
against seq2seq-translate on the same sentences as a file.

    python bench/serve_load.py runs/demo --input data/prepared/.../test.src [--clients 32]
        [--seconds 60] [--rounds 3] [--warmup 15] [--port 8765]

Starts `seq2seq-serve RUN` (the run's decode settings), waits for /health, then runs the
clients (asyncio; aiohttp, or httpx with --client httpx): requests/s, sentences/s,
p50/p95/p99 latency, failed requests, the sentences a search held on average, the server's
RSS each second (flat, or growing) and the cores the server and the clients used, after
--warmup seconds of the same load. Around each window of --seconds of load (--rounds of
them), `seq2seq-translate RUN --input` on the same sentences as a file, timed (the whole
command, and less its time on one sentence: the search alone), the server idle meanwhile:
each window's speed against the mean of the two runs around it, as this machine's speed
moves by a third from minute to minute (one window and one run after it gave 0.56-0.78 of
the same code within an hour). The ratios are what docs/benchmarks.md reports. Prints one
JSON object.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def rss_mb(pid: int) -> float:
    """The RSS of `pid` and of every process under it (seq2seq-serve --workers' too)."""
    total = 0.0
    for proc in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:  # gone meanwhile
            pass
    return total


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User + system CPU seconds so far of `pid`, and of every process under it."""
    def of(proc: int) -> float:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return of(pid), sum(of(proc) for proc in descendants(pid))


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def descendants(pid: int) -> list[int]:
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


@contextlib.asynccontextmanager
async def poster(kind: str):
    """An HTTP client of `kind` (aiohttp: lighter on the cores the server shares with it;
    httpx), as `post(url, body) -> whether it answered 200`."""
    if kind == "aiohttp":
        import aiohttp
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            async def post(url: str, body: dict) -> bool:
                try:
                    async with http.post(url, json=body) as r:
                        await r.read()
                        return r.status == 200
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    return False
            yield post
        return
    async with httpx.AsyncClient(timeout=120) as http:
        async def post(url: str, body: dict) -> bool:
            try:
                return (await http.post(url, json=body)).status_code == 200
            except httpx.HTTPError:
                return False
        yield post


async def load(url: str, sentences: list[str], clients: int, seconds: float, pid: int,
               kind: str):
    latencies, failures, answered, rss = [], 0, [], []
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal failures
        async with poster(kind) as post:
            i = k
            while time.perf_counter() < stop:
                text = sentences[i % len(sentences)]
                start = time.perf_counter()
                ok = await post(url, {"texts": [text]})
                latencies.append(time.perf_counter() - start)
                failures += not ok
                answered.append(text)
                i += clients

    async def watch() -> None:
        while time.perf_counter() < stop:
            rss.append(round(rss_mb(pid), 1))
            await asyncio.sleep(1)
    began = time.perf_counter()
    await asyncio.gather(watch(), *(client(k) for k in range(clients)))
    return latencies, failures, answered, rss, time.perf_counter() - began


def serve(run: str, port: int, extra: list[str]) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "seq2seq.cli.serve", run, "--port",
                               str(port), "--name", "run", "--device", "cpu", *extra],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("seq2seq-serve did not come up in 2 minutes")


def cli_seconds(run: str, sentences: list) -> tuple[float, float]:
    """Seconds seq2seq-translate takes on `sentences` as a file (the whole command), and on
    the first of them alone (its start and load: the search alone is the difference)."""
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, lines in (("all", sentences), ("one", sentences[:1])):
            src = Path(tmp) / f"{name}.txt"
            src.write_text("".join(s + "\n" for s in lines), encoding="utf-8")
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "seq2seq.tasks.translation.cli", run,
                            "--input", str(src), "--output", str(src) + ".out", "--device",
                            "cpu"], check=True)
            seconds.append(time.perf_counter() - start)
    return seconds[0], seconds[1]


def measured(server: subprocess.Popen, args, url: str, sentences: list[str]) -> dict:
    """--rounds windows of --seconds of load, each between two runs of seq2seq-translate
    on the sentences (the server idle meanwhile): this machine's speed drifts by a third
    from minute to minute, so each window's speed is set against the mean of the two
    command runs around it."""
    # the clients' sentences in the order they send them, as many as a window answers
    lines = sentences * max(1, round(args.cli_sentences / len(sentences)))
    cli = [len(lines) / cli_seconds(args.run, lines)[0]]
    out = {"windows": [], "latencies": [], "failed": 0, "rss": [], "cpu": [0.0, 0.0, 0.0],
           "cli_search": []}
    for _ in range(args.rounds):
        before = (*cpu_seconds(server.pid), own_cpu_seconds())
        lat, failures, answered, rss, wall = asyncio.run(load(
            url, sentences, args.clients, args.seconds, server.pid, args.client))
        after = (*cpu_seconds(server.pid), own_cpu_seconds())
        out["cpu"] = [c + now - then for c, now, then in zip(out["cpu"], after, before)]
        whole, one = cli_seconds(args.run, lines)
        cli.append(len(lines) / whole)
        out["cli_search"].append(len(lines) / (whole - one) if whole > one else float("nan"))
        speed = len(answered) / wall
        out["windows"].append({"seconds": round(wall, 1), "sentences_per_s": round(speed, 2),
                               "cli_sentences_per_s": [round(c, 2) for c in cli[-2:]],
                               "ratio_to_cli": round(2 * speed / (cli[-2] + cli[-1]), 3)})
        out["latencies"] += lat
        out["failed"] += failures
        out["rss"] += rss
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--input", type=Path, required=True, help="sentences, one a line")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--threads", type=int, default=0, help="seq2seq-serve --threads")
    p.add_argument("--batch", type=int, default=64, help="seq2seq-serve --batch")
    p.add_argument("--serve-arg", action="append", default=[],
                   help="another seq2seq-serve option, e.g. --serve-arg=--quiet-ms=10")
    p.add_argument("--client", choices=["aiohttp", "httpx"], default="aiohttp",
                   help="the clients' HTTP library")
    p.add_argument("--cli-sentences", type=int, default=12000,
                   help="about how many sentences seq2seq-translate searches each time (the "
                        "input repeated): about what a window answers, so that the "
                        "command's start weighs as little")
    p.add_argument("--rounds", type=int, default=1,
                   help="windows of --seconds, each between two runs of seq2seq-translate")
    p.add_argument("--warmup", type=float, default=0,
                   help="seconds of the same load before the measured ones")
    args = p.parse_args()
    sentences = [s for s in args.input.read_text(encoding="utf-8").splitlines() if s.strip()]
    server = serve(args.run, args.port, ["--threads", str(args.threads), "--batch",
                                         str(args.batch), *args.serve_arg])
    url = f"http://127.0.0.1:{args.port}/runs/run/translate"
    try:
        cold = rss_mb(server.pid)
        if args.warmup > 0:  # the same load, not counted: the caches fill with batch shapes
            asyncio.run(load(url, sentences, args.clients, args.warmup, server.pid,
                             args.client))
        m = measured(server, args, url, sentences)
        searched = httpx.get(f"http://127.0.0.1:{args.port}/health").json()["searched"]["run"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    wall = sum(w["seconds"] for w in m["windows"])
    lat, rss, cpu = m["latencies"], m["rss"], m["cpu"]
    q = statistics.quantiles(lat, n=100)
    print(json.dumps({
        "clients": args.clients, "client_library": args.client,
        "server_threads": args.threads or "default",
        "server_batch": args.batch, "server_args": args.serve_arg,
        "rounds": args.rounds, "seconds": round(wall, 1), "requests": len(lat),
        "failed": m["failed"], "requests_per_s": round(len(lat) / wall, 2),
        "sentences_per_s": round(len(lat) / wall, 2),
        # each window's speed against the command's runs around it; the median window's
        "ratio_to_cli": statistics.median(w["ratio_to_cli"] for w in m["windows"]),
        "windows": m["windows"],
        "cli_search_sentences_per_s": [round(c, 2) for c in m["cli_search"]],
        "mean_batch": round(searched["items"] / max(searched["batches"], 1), 1),
        "latency_ms": {"p50": round(q[49] * 1000), "p95": round(q[94] * 1000),
                       "p99": round(q[98] * 1000)},
        # the cores the server's process, its workers and these clients used under load
        "cores_used": {"server": round(cpu[0] / wall, 2), "workers": round(cpu[1] / wall, 2),
                       "clients": round(cpu[2] / wall, 2)},
        "warmup_s": args.warmup, "rss_mb": {"before_any_request": round(cold, 1),
                                            "first": rss[0], "last": rss[-1], "max": max(rss),
                                            "each_second": rss}}, indent=1))

if __name__ == "__main__":
    main()
