"""seq2seq-serve as a process: it comes up, answers, and on SIGTERM finishes the request in
flight before it exits (uvicorn's graceful shutdown); a run it cannot serve is one line."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from conftest import corpus_lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "seq2seq.cli.serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_up(url: str, server: subprocess.Popen) -> None:
    for _ in range(300):
        assert server.poll() is None, server.communicate()[1][-2000:]
        try:
            if httpx.get(url + "/health").status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("seq2seq-serve did not come up")


@pytest.mark.parametrize("workers", [0, 2])
def test_sigterm_finishes_the_request_in_flight(task_runs, workers):
    """In its own thread, or (--workers 2) in worker processes, which ignore the signal
    and are shut down once the answer is out."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(str(task_runs["translation"]), "--port", str(port), "--name", "tr",
                   "--device", "cpu", "--workers", str(workers))
    try:
        wait_up(url, server)
        texts = corpus_lines("dev", "es", 64)
        got: dict = {}

        def ask() -> None:
            got["r"] = httpx.post(url + "/runs/tr/translate", timeout=120,
                                  json={"texts": texts, "beam_size": 12})
        t = threading.Thread(target=ask)
        start_time = time.perf_counter()
        t.start()
        time.sleep(0.5)
        server.send_signal(signal.SIGTERM)
        t.join(timeout=120)
        took = time.perf_counter() - start_time
        assert got["r"].status_code == 200 and len(got["r"].json()["results"]) == 64
        # uvicorn shuts down, then re-raises the signal: the status a SIGTERM gives
        assert server.wait(timeout=60) in (0, -signal.SIGTERM)
        assert "Finished server process" in server.stderr.read()
        assert took > 0.5  # it was in flight when the signal came
        with pytest.raises(httpx.HTTPError):
            httpx.get(url + "/health")
    finally:
        if server.poll() is None:
            server.kill()


def test_worker_processes_answer_what_the_translator_does(task_runs):
    """--workers 2: 12 concurrent one-sentence requests, searched in two processes, each
    answered as the Python API answers it alone."""
    import seq2seq
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(str(task_runs["translation"]), "--port", str(port), "--name", "tr",
                   "--device", "cpu", "--workers", "2", "--threads", "1")
    try:
        wait_up(url, server)
        texts = corpus_lines("dev", "es", 12)
        got = [None] * len(texts)

        def ask(i: int) -> None:
            got[i] = httpx.post(url + "/runs/tr/translate", timeout=120,
                                json={"texts": [texts[i]], "beam_size": 3, "nbest": 2}).json()
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(texts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        want = seq2seq.load(task_runs["translation"], device="cpu").translate_nbest(
            texts, beam=3, nbest=2)
        for answer, line in zip(got, want):
            assert [a["text"] for a in answer["results"][0]] == [t for t, _ in line]
            assert [a["score"] for a in answer["results"][0]] == pytest.approx(
                [s for _, s in line], abs=1e-4)
        searched = httpx.get(url + "/health").json()["searched"]["tr"]
        assert searched["requests"] == 12 and searched["items"] == 12
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) in (0, -signal.SIGTERM)


def test_a_run_it_cannot_serve_is_one_line(task_runs):
    server = start(str(task_runs["language_model"]), "--port", str(free_port()))
    _, err = server.communicate(timeout=120)
    assert server.returncode != 0
    assert err.strip().splitlines()[-1] == (
        f"seq2seq-serve: error: {task_runs['language_model']}: a language_model run, which "
        "seq2seq-serve does not serve yet"), err
