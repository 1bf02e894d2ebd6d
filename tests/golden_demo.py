"""The demo's training, recorded: every step's loss, gradient norm and lr, and each
evaluation's dev perplexity and BLEU, at full precision (the log prints 3 decimals).

    python tests/golden_demo.py tests/fixtures/golden/demo_300.json     # record (today's code)

One record per kind of CPU (`cpu()`): demo_300.json was made on an AMD EPYC (AVX512),
demo_300.intel-amx.json on an Intel Xeon with AMX, each by the code of 61a0f8c or, for the
second, of 42bcd11 (which the first passes on its CPU).

`tests/test_golden.py` runs the same and compares with the recorded file: a change that
means to keep `make demo`'s numbers (a refactoring) must keep these within 1e-6 on the CPU
that recorded them.
"""
from __future__ import annotations

import json
import platform
import re
import sys
from pathlib import Path

import torch

from seq2seq.config.compose import load_config
from seq2seq.training import report

STEPS = 300
OVERRIDES = ["experiment=bible_demo", "trainer.precision=fp32", "decode.precision=fp32",
             f"trainer.max_steps={STEPS}", "trainer.eval_every=150",
             "trainer.eval_max_sentences=20", "trainer.threads=2", "trainer.max_time=null",
             "trainer.tensorboard=false", "trainer.log_every=100"]


def cpu() -> str:
    """What the numbers depend on: the kernels torch and oneDNN pick for this CPU (the
    threads are the record's own): "AVX512 x86_64" alone holds AMD's EPYC and Intel's Xeon
    with AMX, whose fp32 sums round differently."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    vendor = re.search(r"^vendor_id\s*:\s*(\S+)", info, re.M)
    amx = " AMX" if re.search(r"^flags\s*:.*\bamx_tile\b", info, re.M) else ""
    return (f"{torch.backends.cpu.get_cpu_capability()} {platform.machine()} "
            f"{vendor.group(1) if vendor else platform.processor()}{amx}")


def record(run_dir: Path, prepared_dir: Path) -> dict:
    from seq2seq.training.loop import train
    steps, evals = [], []
    step, evaluation = report.Reporter.step, report.Reporter.evaluation

    def on_step(self, **kw):
        steps.append([kw["step"], kw["loss"], kw["tokens"], kw["grad_norm"], kw["lr"]])
        return step(self, **kw)

    def on_evaluation(self, **kw):
        evals.append(_evaluation(kw))
        return evaluation(self, **kw)
    report.Reporter.step, report.Reporter.evaluation = on_step, on_evaluation
    try:
        cfg = load_config(OVERRIDES + [f"trainer.run_dir={run_dir}",
                                       f"data.prepared_dir={prepared_dir}"])
        train(cfg)
    finally:
        report.Reporter.step, report.Reporter.evaluation = step, evaluation
    return {"cpu": cpu(), "overrides": OVERRIDES, "steps": steps, "evaluations": evals}


def _evaluation(kw: dict) -> list:
    """[step, dev ppl, dev BLEU] from what the reporter hears at an evaluation."""
    if "metrics" in kw:  # after the tasks change: {"ppl": .., "bleu": Score}
        m = kw["metrics"]
        return [kw["step"], m["ppl"], m["bleu"].score if m.get("bleu") else None]
    return [kw["step"], kw["ppl"], kw["bleu"].score if kw["bleu"] else None]


if __name__ == "__main__":
    import tempfile
    out = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        result = record(Path(tmp) / "run", Path(tmp) / "prepared")
    out.write_text(json.dumps(result) + "\n")
    print(f"{out}: {len(result['steps'])} steps, evaluations {result['evaluations']}")
