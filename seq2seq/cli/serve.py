"""seq2seq-serve: trained runs over HTTP, each under its name (FastAPI and uvicorn:
`pip install 'seq2seq[serve]'`).

    seq2seq-serve runs/demo runs/sentiment --port 8000
    curl -s localhost:8000/runs/demo/translate -d '{"texts": ["Hola."], "beam_size": 5}'
    curl -s localhost:8000/runs/sentiment/classify -d '{"texts": ["A witty film."]}'
    curl -s localhost:8000/runs/upos/tag -d '{"texts": ["I saw her duck ."]}'
    curl -s "localhost:8000/runs/emoji/caption?beam_size=5" --data-binary @apple.png

A run's name is its folder's (or --name NAME, once per run, in order). Concurrent requests
are searched together (seq2seq/serving/batcher.py); the limits below bound each request,
and anything else a client gets wrong is a 4xx JSON error of one line
(seq2seq/serving/app.py). SIGTERM or Ctrl-C: no new requests, the ones in flight answered.
"""
from __future__ import annotations

import argparse
import functools
import sys
from importlib import metadata
from pathlib import Path

from seq2seq.cli.common import run as run_cli
from seq2seq.config.extras import requires
from seq2seq.serving.endpoint import Limits


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="seq2seq-serve", description=__doc__.split("\n")[0])
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run directories")
    p.add_argument("--name", action="append", default=[], help="a run's name (in order)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--batch", type=int, default=64,
                   help="items (texts, images) a search gathers from concurrent requests at most")
    p.add_argument("--wait-ms", type=float, default=20.0,
                   help="a search waits at most this long for requests to join its first")
    p.add_argument("--quiet-ms", type=float, default=3.0,
                   help="and closes when none has come for this long")
    p.add_argument("--threads", type=int, default=0,
                   help="torch's threads for a search (0: torch's default, a core each; "
                        "with --workers, 1)")
    p.add_argument("--workers", type=int, default=0,
                   help="search in N worker processes, each with the runs loaded (0: in a "
                        "thread of this one); on 2 cores, --workers 2 doubles the searches")
    d = Limits()
    p.add_argument("--max-lines", type=int, default=d.max_lines, help="texts a request")
    p.add_argument("--max-chars", type=int, default=d.max_chars, help="characters a text")
    p.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes)
    p.add_argument("--max-image-bytes", type=int, default=d.max_image_bytes)
    p.add_argument("--max-image-pixels", type=int, default=d.max_image_pixels)
    p.add_argument("--timeout", type=float, default=d.timeout_s, help="seconds a request")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p.parse_args(argv)


def names(runs: list[Path], given: list[str]) -> list[str]:
    if len(given) > len(runs):
        raise ValueError(f"{len(given)} --name for {len(runs)} runs")
    out = given + [r.resolve().name for r in runs[len(given):]]
    for name in out:
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError(f"run name {name!r}: letters, digits, '-', '_' and '.' only "
                             "(--name NAME)")
    if len(set(out)) < len(out):
        raise ValueError(f"two runs named {sorted(n for n in out if out.count(n) > 1)[0]!r}: "
                         "give --name NAME for each run")
    return out


def build(args: argparse.Namespace):
    """The app: each run loaded as its task's predictor, with its endpoint; with --workers N,
    the searches in N worker processes that load the same runs."""
    requires("fastapi", "serve", "seq2seq-serve")
    if args.batch < 1 or args.threads < 0 or args.workers < 0:
        raise ValueError(f"--batch {args.batch}, --threads {args.threads}, --workers "
                         f"{args.workers}: a search gathers at least 1 item, on 0 (torch's "
                         "default) or more threads, in this process (0) or N workers")
    from seq2seq.serving.app import build_app
    from seq2seq.serving.workers import Workers
    limits = Limits(max_body_bytes=args.max_body_bytes, max_lines=args.max_lines,
                    max_chars=args.max_chars, max_image_bytes=args.max_image_bytes,
                    max_image_pixels=args.max_image_pixels, timeout_s=args.timeout)
    runs = dict(zip(names(args.runs, args.name), map(str, args.runs)))
    endpoints, tasks = load_endpoints(runs, args.device, limits)
    workers = None if args.workers == 0 else Workers(
        functools.partial(worker_endpoints, runs, args.device, limits), args.workers,
        args.threads or 1)
    return build_app(endpoints, tasks, limits, version=metadata.version("seq2seq"),
                     batch=args.batch, wait_ms=args.wait_ms, quiet_ms=args.quiet_ms,
                     workers=workers)


def load_endpoints(runs: dict[str, str], device: str, limits: Limits) -> tuple[dict, dict]:
    """({name: endpoint}, {name: task}) of the runs, each loaded as its task's predictor."""
    from seq2seq.export.locate import locate
    from seq2seq.serving.endpoint import endpoint_of
    from seq2seq.tasks import task_class
    from seq2seq.training.checkpoint import run_task
    endpoints, tasks = {}, {}
    for name, run in runs.items():
        task = run_task(locate([run])[0])  # an export, hf://owner/name: as a run
        predictor = task_class(task).predictor.from_run(run, device=device)
        ep = endpoint_of(predictor, limits)
        if ep is None:
            raise ValueError(f"{run}: a {task} run, which seq2seq-serve does not serve yet")
        endpoints[name], tasks[name] = ep, task
    return endpoints, tasks


def worker_endpoints(runs: dict[str, str], device: str, limits: Limits) -> dict:
    """What a worker process loads (seq2seq/serving/workers.py)."""
    return load_endpoints(runs, device, limits)[0]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)

    def body() -> None:
        if args.threads > 0:
            import torch
            torch.set_num_threads(args.threads)
        app = build(args)
        uvicorn = requires("uvicorn", "serve", "seq2seq-serve")
        uvicorn.run(app, host=args.host, port=args.port, timeout_graceful_shutdown=30,
                    log_level="info")
    run_cli("seq2seq-serve", body, args.debug)


if __name__ == "__main__":
    main()
