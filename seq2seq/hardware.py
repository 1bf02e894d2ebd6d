"""The device a run uses and the precision it computes in there.

`precision` settings (trainer.precision, decode.precision) name an autocast dtype:
fp32 (none), bf16, fp16, or auto: bf16 where the hardware does it natively, else fp32.
bf16 pays only with native support: on a CPU that means AVX512-BF16 or AMX. AVX-512
without them emulates it (allowed when asked for, never picked by auto); an AVX2-only CPU
cannot build oneDNN's bf16 LSTM at all, so asking for bf16 there is an error that names
the key, not a crash mid-run.
"""
from __future__ import annotations

import torch

from seq2seq.config import ConfigError

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
        return "bf16" if native_bf16(device) else "fp32"
    if device.type == "cpu" and _onednn():
        if name == "bf16" and not onednn_bf16():
            raise ConfigError(f"config key '{key}': this CPU has no bf16 support "
                              f"({torch.backends.cpu.get_cpu_capability()}; oneDNN's bf16 LSTM "
                              f"needs AVX512-BF16 or AMX); use fp32 or auto")
        if name == "fp16":
            raise ConfigError(f"config key '{key}': fp16 is for CUDA GPUs (oneDNN has no "
                              f"fp16 LSTM on this CPU); use bf16 or auto on a CPU")
    return name


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """Matrix products in `precision` (a picked one, not auto); parameters stay fp32."""
    return torch.autocast(device.type, dtype=DTYPES.get(precision, torch.bfloat16),
                          enabled=precision != "fp32")

