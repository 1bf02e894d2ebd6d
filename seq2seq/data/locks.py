"""One process at a time: an exclusive lock on a file beside what it guards, held while a
preparation is written (two runs started together on the same data: the second waits,
then reuses the first's) and while the hardware cache is read and rewritten.
Where the OS has no flock (Windows) the lock is a no-op.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None


@contextlib.contextmanager
def locked(lock: Path) -> Iterator[None]:
    """The file `lock` held exclusively until the block ends (and left in place: removing
    it could let a third process lock a new file while the second holds the old one)."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        yield
