"""Device and precision: `auto` picks what the hardware does natively, and a precision it
cannot do is refused at once, in one line that names the key."""
from __future__ import annotations

import pytest
import torch

from seq2seq import hardware
from seq2seq.config import ConfigError, load_config
from seq2seq.hardware import autocast, pick_precision
from seq2seq.train import train

CPU = torch.device("cpu")


@pytest.fixture(params=[False, True], ids=["avx2-cpu", "amx-cpu"])
def native(request, monkeypatch) -> bool:
    """A CPU without and with native bf16, whichever this machine is."""
    monkeypatch.setattr(hardware, "native_bf16", lambda device: request.param)
    monkeypatch.setattr(hardware, "onednn_bf16", lambda: request.param)
    return request.param


def test_auto_is_bf16_only_where_native(native):
    assert pick_precision("auto", CPU, "trainer.precision") == ("bf16" if native else "fp32")
    assert pick_precision("fp32", CPU, "trainer.precision") == "fp32"


def test_bf16_without_native_support_is_refused_naming_the_key(native):
    if native:
        assert pick_precision("bf16", CPU, "decode.precision") == "bf16"
    else:
        with pytest.raises(ConfigError, match="config key 'decode.precision': this CPU has no"):
            pick_precision("bf16", CPU, "decode.precision")
    with torch.backends.mkldnn.flags(enabled=False):  # torch's own kernels: any CPU
        assert pick_precision("bf16", CPU, "decode.precision") == "bf16"


def test_fp16_is_for_gpus(native):
    with pytest.raises(ConfigError, match="config key 'trainer.precision': fp16 is for CUDA"):
        pick_precision("fp16", CPU, "trainer.precision")
    assert pick_precision("fp16", torch.device("cuda"), "trainer.precision") == "fp16"


def test_emulated_bf16_is_allowed_but_not_chosen(monkeypatch):
    """AVX-512 without BF16: oneDNN builds bf16 LSTMs by emulation (slower than fp32), so
    bf16 runs when asked for and auto takes fp32."""
    monkeypatch.setattr(hardware, "native_bf16", lambda device: False)
    monkeypatch.setattr(hardware, "onednn_bf16", lambda: True)
    assert pick_precision("bf16", CPU, "trainer.precision") == "bf16"
    assert pick_precision("auto", CPU, "trainer.precision") == "fp32"


def test_autocast_dtypes():
    assert not autocast(CPU, "fp32")._enabled
    assert autocast(CPU, "bf16").fast_dtype == torch.bfloat16
    assert autocast(CPU, "fp16").fast_dtype == torch.float16


def test_training_in_bf16_on_a_cpu_without_it_stops_before_writing(monkeypatch, tmp_path,
                                                                   smoke_run):
    monkeypatch.setattr(hardware, "native_bf16", lambda device: False)
    monkeypatch.setattr(hardware, "onednn_bf16", lambda: False)
    cfg = load_config(["debug=smoke", f"trainer.run_dir={tmp_path / 'run'}",
                       f"data.prepared_dir={smoke_run['prepared_dir']}",
                       "trainer.precision=bf16"])
    with pytest.raises(ConfigError, match="trainer.precision"):
        train(cfg)
    assert not (tmp_path / "run").exists()  # nothing half-made to clean up or resume


def test_shipped_configs_train_anywhere():
    for experiment in ("bible_demo", "lm_en"):
        cfg = load_config([f"experiment={experiment}"])
        assert cfg.trainer.precision in ("auto", "fp32"), experiment
