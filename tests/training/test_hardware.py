"""Device and precision: `auto` picks bf16 only where the hardware does it natively and,
on a CPU, measurably faster (measured once per machine, cached); a precision the hardware
cannot do is refused at once, in one line that names the key."""
from __future__ import annotations

import json
import logging
import time

import pytest
import torch

from seq2seq.config.compose import ConfigError, load_config
from seq2seq.training import hardware
from seq2seq.training.hardware import autocast, cache_path, pick_precision
from seq2seq.training.loop import train

CPU = torch.device("cpu")
# native bf16, and the GFLOP/s of an LSTM layer in fp32 and bf16 (None: never measured)
CPUS = {"avx2-cpu": (False, None),
        "bf16-slower-cpu": (True, {"fp32": 250.0, "bf16": 138.0}),  # 2-core Xeon, no AMX
        "amx-cpu": (True, {"fp32": 250.0, "bf16": 900.0})}


@pytest.fixture(autouse=True)
def fresh_auto(monkeypatch, tmp_path):
    """Each test: a cache of its own, and no choice remembered by this process."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(hardware, "_CHOSEN", {})


def fake_cpu(monkeypatch, native: bool, speeds, steady: bool = True) -> list[int]:
    """This process sees such a CPU (`steady`: no other process disturbed the measurement);
    returns the list that counts measurements."""
    calls: list[int] = []

    def measure() -> tuple[dict[str, float], bool]:
        assert speeds is not None, "measured a CPU without native bf16"
        calls.append(1)
        return dict(speeds), steady
    monkeypatch.setattr(hardware, "native_bf16", lambda device: native)
    monkeypatch.setattr(hardware, "onednn_bf16", lambda: native)
    monkeypatch.setattr(hardware, "measure_speeds", measure)
    return calls


@pytest.fixture(params=list(CPUS))
def cpu(request, monkeypatch) -> str:
    """A CPU without native bf16, one with it where it is slower than fp32, and one where
    it is faster, whichever this machine is."""
    fake_cpu(monkeypatch, *CPUS[request.param])
    return request.param


def test_auto_is_bf16_only_where_native_and_faster(cpu):
    assert pick_precision("auto", CPU, "trainer.precision") == (
        "bf16" if cpu == "amx-cpu" else "fp32")
    assert pick_precision("fp32", CPU, "trainer.precision") == "fp32"


def test_bf16_without_native_support_is_refused_naming_the_key(cpu):
    if cpu != "avx2-cpu":  # slower or not, bf16 runs when asked for
        assert pick_precision("bf16", CPU, "decode.precision") == "bf16"
    else:
        with pytest.raises(ConfigError, match="config key 'decode.precision': this CPU has no"):
            pick_precision("bf16", CPU, "decode.precision")
    with torch.backends.mkldnn.flags(enabled=False):  # torch's own kernels: any CPU
        assert pick_precision("bf16", CPU, "decode.precision") == "bf16"


def test_fp16_is_for_gpus(cpu):
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


def test_the_measurement_is_cached_and_reused(monkeypatch):
    calls = fake_cpu(monkeypatch, True, CPUS["amx-cpu"][1])
    assert pick_precision("auto", CPU, "trainer.precision") == "bf16"
    assert pick_precision("auto", CPU, "decode.precision") == "bf16"
    assert len(calls) == 1  # once per process
    cached = json.loads(cache_path().read_text())
    assert cached == {hardware.machine_key(CPU): CPUS["amx-cpu"][1]}
    monkeypatch.setattr(hardware, "_CHOSEN", {})  # as a new process
    assert pick_precision("auto", CPU, "trainer.precision") == "bf16"
    assert len(calls) == 1  # read from the cache, not measured again
    cache_path().write_text(json.dumps({hardware.machine_key(CPU): CPUS["bf16-slower-cpu"][1]}))
    monkeypatch.setattr(hardware, "_CHOSEN", {})
    assert pick_precision("auto", CPU, "trainer.precision") == "fp32"  # the cache decides
    assert len(calls) == 1


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"KEY": {"fp32": "fast"}}',
                                     b'{"KEY": {"fp32": 250.0}}', b"\xff\xfe not UTF-8"])
def test_a_corrupt_cache_is_measured_again_and_rewritten(monkeypatch, content):
    calls = fake_cpu(monkeypatch, True, CPUS["bf16-slower-cpu"][1])
    path = cache_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content.replace(b"KEY", hardware.machine_key(CPU).encode()))
    assert pick_precision("auto", CPU, "trainer.precision") == "fp32"
    assert len(calls) == 1
    assert json.loads(path.read_text())[hardware.machine_key(CPU)] == CPUS["bf16-slower-cpu"][1]


def test_a_measurement_disturbed_by_a_busy_machine_is_used_once_not_cached(monkeypatch):
    calls = fake_cpu(monkeypatch, True, CPUS["amx-cpu"][1], steady=False)
    assert pick_precision("auto", CPU, "trainer.precision") == "bf16"
    assert not cache_path().exists()
    monkeypatch.setattr(hardware, "_CHOSEN", {})  # the next run measures again
    pick_precision("auto", CPU, "trainer.precision")
    assert len(calls) == 2


def test_an_unwritable_cache_measures_and_still_chooses(monkeypatch, tmp_path):
    calls = fake_cpu(monkeypatch, True, CPUS["amx-cpu"][1])
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # no directory in there
    assert pick_precision("auto", CPU, "trainer.precision") == "bf16"
    assert len(calls) == 1


def test_auto_logs_its_choice_and_why_once(monkeypatch, caplog):
    fake_cpu(monkeypatch, True, CPUS["bf16-slower-cpu"][1])
    monkeypatch.setattr(hardware, "device_name", lambda device: "Intel Xeon (test)")
    with caplog.at_level(logging.INFO, logger="seq2seq.training.hardware"):
        pick_precision("auto", CPU, "trainer.precision")
        pick_precision("auto", CPU, "decode.precision")
    lines = [r.getMessage() for r in caplog.records if "precision auto" in r.getMessage()]
    assert lines == [f"precision auto -> fp32: bf16 138 GFLOP/s <= fp32 250 GFLOP/s (an LSTM "
                     f"layer forward + backward) on Intel Xeon (test) (measured, cached in "
                     f"{cache_path()})"]


def test_cuda_takes_native_bf16_without_measuring(monkeypatch):
    fake_cpu(monkeypatch, True, None)  # measuring would fail the test
    monkeypatch.setattr(hardware, "device_name", lambda device: "a GPU")
    assert pick_precision("auto", torch.device("cuda"), "trainer.precision") == "bf16"


def test_the_real_measurement_is_short_and_leaves_the_rng_alone():
    """Where auto measures (native bf16) in under 3 s; elsewhere it still runs, once, on
    torch's own kernels. From inside inference mode, as search calls it."""
    native = hardware.native_bf16(CPU)
    state = torch.get_rng_state()
    start = time.perf_counter()
    with torch.backends.mkldnn.flags(enabled=hardware.onednn_bf16()), torch.inference_mode():
        speeds, _ = hardware.measure_speeds(repeat=5 if native else 2)
    assert time.perf_counter() - start < 3 or not native
    assert speeds["fp32"] > 0 and speeds["bf16"] > 0
    assert torch.equal(torch.get_rng_state(), state)


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
