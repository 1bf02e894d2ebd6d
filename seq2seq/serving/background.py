"""seq2seq-serve's app in a thread of this process, on a free local port: for the page's
browser test and the README's screenshots, which drive the page from the same process.

    with serving(build(parse_args([...]))) as url:     # "http://127.0.0.1:PORT/"
        ...
"""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def serving(app, start_timeout_s: float = 15.0) -> Iterator[str]:
    """The app answering on 127.0.0.1 (a free port) until the block ends: its address."""
    import uvicorn
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("seq2seq-serve did not start in a thread")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
