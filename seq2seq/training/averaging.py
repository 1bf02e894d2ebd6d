"""The mean of several checkpoints' parameters: one model (seq2seq-average: a run's last K
checkpoints, as fairseq's average_checkpoints.py and Marian do; seq2seq-export --average:
several runs of one shape).
"""
from __future__ import annotations

from pathlib import Path

from seq2seq.models.encoder_decoder import upgrade_weights
from seq2seq.training import checkpoint


def average(paths: list[Path]) -> dict:
    """The newest checkpoint's payload, with every parameter the mean over `paths`."""
    payloads = [checkpoint.load(p) for p in paths]
    # a run resumed across issue 19 holds checkpoints in both namings: one for all
    models = [upgrade_weights(payload["model"]) for payload in payloads]
    first = models[0]
    total = {name: t.double() for name, t in first.items()}  # float64: K copies average exactly
    for path, model in zip(paths[1:], models[1:]):
        if model.keys() != first.keys() or any(model[k].shape != first[k].shape for k in first):
            raise ValueError(f"{path}: a checkpoint of another model shape than {paths[0]}")
        for name, tensor in model.items():
            total[name] += tensor.double()
    mean = {name: (t / len(paths)).to(first[name].dtype) for name, t in total.items()}
    out = dict(payloads[-1], model=mean, averaged=[str(p) for p in paths])
    out.pop("optimizer", None)  # an average is for translating, not for resuming
    return out
