"""The device a run uses and the precision it computes in there.

`precision` settings (trainer.precision, decode.precision) name an autocast dtype:
fp32 (none), bf16, fp16, or auto: whichever of fp32 and bf16 is faster where the hardware
does bf16 natively, else fp32. On CUDA native bf16 is the faster, so auto takes it. On a
CPU native bf16 (AVX512-BF16 or AMX) need not be: an AMD EPYC with AVX512-BF16 trains
1.7x faster in bf16, but a 2-core Intel Xeon with AVX512-BF16 and no AMX multiplies
matrices at 138 GFLOP/s in bf16 against 244-278 in fp32 (and trains at 1,817 target
tokens/s against 2,757). So there auto times an LSTM layer in both, once per machine
(cached in `cache_path()`), and logs what it chose and why. AVX-512 without BF16 emulates
bf16 (allowed when asked for, never picked by auto); an AVX2-only CPU cannot build
oneDNN's bf16 LSTM at all, so asking for bf16 there is an error that names the key, not a
crash mid-run.
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from seq2seq.config.compose import ConfigError
from seq2seq.data.locks import locked
from seq2seq.models import int8
from seq2seq.training.checkpoint import write_text_atomic

log = logging.getLogger(__name__)

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def pick_device(name: str) -> torch.device:
    """"auto": CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _onednn() -> bool:
    """oneDNN runs the CPU's LSTMs (it does unless disabled)."""
    return torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled


def native_bf16(device: torch.device) -> bool:
    """The device computes bf16 in hardware (emulated, it is slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return _onednn() and (torch.cpu._is_avx512_bf16_supported()
                          or torch.cpu._is_amx_tile_supported())


def onednn_bf16() -> bool:
    """oneDNN can build bf16 LSTMs on this CPU: natively, or emulated with AVX-512."""
    return _onednn() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def pick_precision(name: str, device: torch.device, key: str) -> str:
    """fp32 | bf16 | fp16 for `name` on `device`; `key` (the config key) names errors."""
    if name == "auto":
        return auto_precision(device)
    if name == "int8" and (device.type != "cpu" or not int8.available()):
        raise ConfigError(f"config key '{key}': int8 decoding runs on a CPU with fbgemm "
                          f"(x86 builds of torch), not on {device.type}; use fp32 or bf16")
    if device.type == "cpu" and _onednn():
        if name == "bf16" and not onednn_bf16():
            raise ConfigError(f"config key '{key}': this CPU has no bf16 support "
                              f"({torch.backends.cpu.get_cpu_capability()}; oneDNN's bf16 LSTM "
                              f"needs AVX512-BF16 or AMX); use fp32 or auto")
        if name == "fp16":
            raise ConfigError(f"config key '{key}': fp16 is for CUDA GPUs (oneDNN has no "
                              f"fp16 LSTM on this CPU); use bf16 or auto on a CPU")
    return name


def autocast(device: torch.device, precision: str):
    """Matrix products in `precision` (a picked one, not auto); parameters stay fp32.
    int8: search's products on fbgemm's int8 GEMM (seq2seq/models/int8.py)."""
    if precision == "int8":
        return int8.products()
    return torch.autocast(device.type, dtype=DTYPES.get(precision, torch.bfloat16),
                          enabled=precision != "fp32")


# ------------------------------------------------------------------ auto
_CHOSEN: dict[tuple[str, bool], str] = {}  # (machine, native) -> auto's choice: one log line


def auto_precision(device: torch.device) -> str:
    """fp32 without native bf16; bf16 on CUDA where native; on a CPU with native bf16,
    whichever of the two ran an LSTM layer faster on this machine."""
    key = (machine_key(device), native_bf16(device))  # oneDNN may be switched off later
    if key not in _CHOSEN:
        _CHOSEN[key], why = _choose(device)
        log.info("precision auto -> %s: %s", _CHOSEN[key], why)
    return _CHOSEN[key]


def _choose(device: torch.device) -> tuple[str, str]:
    """auto's choice on `device`, and why in words."""
    if not native_bf16(device):
        return "fp32", f"no native bf16 on {device_name(device)}"
    if device.type != "cpu":
        return "bf16", f"native bf16 on {device_name(device)}"
    speed, source = cpu_speeds(device)
    choice = "bf16" if speed["bf16"] > speed["fp32"] else "fp32"
    return choice, (f"bf16 {speed['bf16']:.0f} GFLOP/s {'>' if choice == 'bf16' else '<='} "
                    f"fp32 {speed['fp32']:.0f} GFLOP/s (an LSTM layer forward + backward) "
                    f"on {device_name(device)} ({source})")


def device_name(device: torch.device) -> str:
    """The GPU's or the CPU's model name ("AMD EPYC", "Intel(R) Xeon(R) ... @ 2.90GHz")."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()


@functools.cache
def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def machine_key(device: torch.device) -> str:
    """What a measurement holds for: the chip, torch's kernels, the threads they use."""
    return (f"{device_name(device)} | torch {torch.__version__} | {device.type} | "
            f"{torch.get_num_threads()} threads")


def cache_path() -> Path:
    """$XDG_CACHE_HOME/seq2seq/precision.json (else under ~/.cache): speeds by machine."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "seq2seq" / "precision.json"


def cpu_speeds(device: torch.device) -> tuple[dict[str, float], str]:
    """fp32 and bf16 GFLOP/s from the cache, else measured and cached; and which it was.

    Under a lock: DDP ranks start together and must not each measure (they would compete
    for the cores, and could choose differently)."""
    path, key, speeds = cache_path(), machine_key(device), None
    try:
        # Windows: no lock; at worst two processes measure at once
        with locked(path.with_suffix(".lock")):
            cached = _read_cache(path)
            if _valid(cached.get(key)):
                return cached[key], f"cached in {path}"
            speeds, steady = measure_speeds()
            if not steady:  # another process took the cores: good for this run, not the next
                return speeds, "measured on a busy machine, not cached"
            cached[key] = speeds
            write_text_atomic(path, json.dumps(cached, indent=1, sort_keys=True) + "\n")
        return speeds, f"measured, cached in {path}"
    except OSError as exc:  # a read-only home, say: measured again by every run
        log.warning("precision auto: cannot keep speeds in %s (%s)", path, exc)
        return speeds or measure_speeds()[0], "measured, not cached"


def _read_cache(path: Path) -> dict:
    """The cache's entries; {} when there is none or it is corrupt (then rewritten)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:  # not JSON, or not UTF-8
        log.warning("precision auto: ignoring %s (%s); measuring again", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _valid(entry: object) -> bool:
    return isinstance(entry, dict) and all(
        isinstance(entry.get(p), (int, float)) and entry[p] > 0 for p in ("fp32", "bf16"))


def measure_speeds(batch: int = 32, steps: int = 16, size: int = 256, repeat: int = 5,
                   budget_s: float = 2.0) -> tuple[dict[str, float], bool]:
    """GFLOP/s of one LSTM layer's forward + backward, the bulk of a training step, in
    fp32 and under bf16 autocast (weights cast at each call, as in training), on this
    process's threads; and whether the machine held steady while measuring.

    The best of `repeat` runs each, alternated so that a drifting machine slows both; the
    first round only warms up (oneDNN builds its kernels). About 0.1-0.3 s on 2 idle cores;
    another busy process makes runs 10-100x slower and erratic: then the rounds stop after
    `budget_s` and the result is not steady. The RNG's state is left as it was.
    """
    # per row and step 4 gates x [x, h] (2 * size) x size multiply-adds; backward twice that
    flops = 3 * 2 * 4 * (2 * size) * size * batch * steps
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]), torch.inference_mode(False), torch.enable_grad():
        torch.manual_seed(0)
        lstm = nn.LSTM(size, size, batch_first=True)
        x = torch.randn(batch, steps, size)  # (B, T, H)
        for done in range(repeat + 1):
            for precision, seconds in times.items():
                seconds.append(_time_lstm(lstm, x, precision))
            if done >= 1 and time.perf_counter() - start > budget_s:
                break
    runs = {p: seconds[1:] for p, seconds in times.items()}  # warm-up dropped
    steady = len(runs["fp32"]) == repeat and all(
        statistics.median(r) <= 1.5 * min(r) for r in runs.values())
    return {p: flops / min(r) / 1e9 for p, r in runs.items()}, steady


def _time_lstm(lstm: nn.LSTM, x: torch.Tensor, precision: str) -> float:
    """Seconds of one forward + backward of `lstm` on x (B, T, H) in `precision`."""
    start = time.perf_counter()
    with autocast(torch.device("cpu"), precision):
        out, _ = lstm(x)  # (B, T, H)
    out.float().sum().backward()
    return time.perf_counter() - start
