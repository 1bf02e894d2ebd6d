"""K training steps, data-parallel when started by torchrun; used by test_distributed.py.

    torchrun --nproc_per_node=2 tests/training/ddp_steps.py OUT.pt   # two ranks, half a batch each
    python tests/training/ddp_steps.py OUT.pt                         # one process, whole batches
    ... OUT.pt classify                                   # a classifier's (task=classification)

Both write the parameters after K steps of `seq2seq.training.optim.gradients` + SGD, the code path
of `seq2seq-train`. The sentences differ in length, so the halves differ in padding too.
"""
from __future__ import annotations

import random
import sys

import torch
from torch.nn.parallel import DistributedDataParallel

from seq2seq.config.compose import DecodeConfig, DecoderConfig, EncoderConfig, ModelConfig
from seq2seq.data.corpus import LabelledBatch, collate
from seq2seq.data.sources import Source
from seq2seq.models.encoder_decoder import Seq2Seq, build_model
from seq2seq.tasks import Classification, Objective, Translation
from seq2seq.tasks.classification.model import build_classifier
from seq2seq.tasks.classification.model import CLASSIFIER_HEAD, ClassifierHeadConfig
from seq2seq.training import distributed
from seq2seq.training.optim import build_optimizer, gradients

STEPS, SENTENCES, VOCAB = 4, 8, 13


def batches() -> list[tuple[list[list[int]], list[list[int]]]]:
    rng = random.Random(0)
    out = []
    for _ in range(STEPS):
        src = [[rng.randrange(4, VOCAB) for _ in range(rng.randint(2, 9))]
               for _ in range(SENTENCES)]
        out.append((src, [list(reversed(s)) for s in src]))
    return out


def model() -> Seq2Seq:
    """A bidirectional encoder with general attention (every part has parameters)."""
    cfg = ModelConfig(emb_dim=8, hidden_dim=12, layers=2, dropout=0.0,
                      encoder=EncoderConfig(bidirectional=True),
                      decoder=DecoderConfig(attention="general"))
    return build_model(cfg, VOCAB, VOCAB)


def classifier() -> torch.nn.Module:
    """A bidirectional encoder with a max-pooling head, 3 labels."""
    cfg = ModelConfig(emb_dim=8, hidden_dim=12, layers=2, dropout=0.0,
                      encoder=EncoderConfig(bidirectional=True),
                      decoder=ClassifierHeadConfig(build=CLASSIFIER_HEAD, pooling="max"))
    return build_classifier(cfg, VOCAB, 3)


def main(out_path: str, task: str = "translation") -> None:
    ranks = distributed.from_environment()
    distributed.start(ranks, torch.device("cpu"))
    torch.manual_seed(0)
    classify = task == "classify"
    net = classifier() if classify else model()
    # The task's loss, as seq2seq-train wraps it (only its loss is used here, so
    # translation needs no tokenizer).
    loss_fn: torch.nn.Module = Objective(net, Classification(["a", "b", "c"]) if classify
                                         else Translation(None, DecodeConfig()))
    if ranks.world > 1:
        loss_fn = DistributedDataParallel(loss_fn)
    params = list(net.parameters())
    opt = build_optimizer("sgd", params, lr=0.5)
    share = SENTENCES // ranks.world
    for src, tgt in batches():
        rows = slice(ranks.rank * share, (ranks.rank + 1) * share)
        b = (LabelledBatch(Source.of_ids(src[rows]), torch.tensor([len(t) % 3 for t in tgt[rows]]))
             if classify else collate(src[rows], tgt[rows]))
        gradients(loss_fn, b, params, ranks, loss_per="sentence" if classify else "token",
                  clip_norm=1.0,
                  autocast=torch.autocast("cpu", enabled=False))
        opt.step()
    if ranks.main:
        torch.save(net.state_dict(), out_path)


if __name__ == "__main__":
    main(*sys.argv[1:])
    distributed.stop()  # as seq2seq-train: once main's DDP wrapper is unreachable
