"""Search's buffers on glibc: kept in the heap rather than mapped afresh at every product.

Search allocates the same few buffers (activations, products, scores) at every step. glibc
serves any above its mmap threshold (dynamic, from 128 kB) with fresh pages from the kernel
and gives them back when freed, and trims the heap's top likewise, so each step faults
and zeroes those pages again. On this project's 2-core machine that made fbgemm's int8
output layer (321 x 256 -> 2,000) take 2.0-2.7 ms instead of 0.28 ms, erratically, and
cost beam 5 on the attention recipe's model 10% of its speed in fp32 and 19% in int8
(docs/benchmarks.md). So the first search in a process fixes the mmap threshold at 32 MB
and the trim threshold at 256 MB (glibc's `mallopt`, what MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ set): buffers below 32 MB come from the heap and stay there for the
next step. Freed memory is then kept by the process, up to what its peak held; peak RSS
did not move (docs/benchmarks.md). Elsewhere (musl, macOS, Windows) nothing changes.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 << 20  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 256 << 20


@functools.cache
def keep() -> bool:
    """Once per process: keep search's buffers in the heap. True where glibc took it."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
