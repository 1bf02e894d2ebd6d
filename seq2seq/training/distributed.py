"""Data-parallel training with torch.distributed (DDP), launched by torchrun.

    torchrun --standalone --nproc_per_node=2 -m seq2seq.cli.train experiment=bible_demo \
        trainer.run_dir=runs/ddp

torchrun starts one process per GPU (or per CPU worker: gloo backend) and sets RANK,
WORLD_SIZE and LOCAL_RANK; without them training is one plain process. Every rank builds
the same shuffled length buckets (same seed) and takes every world-th one, so one step
trains on `world` batches. DDP averages the gradients; the loss is divided by the number
of sentences (or tokens) of all ranks together, so a step equals one process training on
the union of the ranks' batches. Rank 0 alone evaluates, writes checkpoints and logs;
all ranks agree on when to stop. Across machines, torchrun's --nnodes/--rdzv options (or
the SLURM launcher config, `hydra/launcher=submitit_slurm`) start the same processes.
"""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, batches: list[np.ndarray]) -> list[np.ndarray]:
        """This rank's batches: every world-th, the same count on every rank. With several
        ranks, views of one compact copy, so the whole epoch's order can be freed."""
        usable = len(batches) - len(batches) % self.world
        mine = batches[self.rank:usable:self.world]
        if self.world == 1 or not mine:
            return mine
        return np.split(np.concatenate(mine), np.cumsum([len(b) for b in mine])[:-1])

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sums over all ranks (the values themselves with one process)."""
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)  # a CPU tensor: gloo carries it, beside NCCL too (see start)
        return t.tolist()

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def from_environment() -> Ranks:
    """The ranks torchrun describes in the environment (one process without it)."""
    return Ranks(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                 int(os.environ.get("LOCAL_RANK", 0)))


def start(ranks: Ranks, device: torch.device) -> torch.device:
    """Join the process group; the device this rank trains on."""
    if ranks.world == 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
        # NCCL for the gradients, gloo for the few CPU scalars of `Ranks.sum`.
        dist.init_process_group("cuda:nccl,cpu:gloo")
    else:
        dist.init_process_group("gloo")
    return device


def stop() -> None:
    """Leave the process group. DDP wrappers no longer used, but held in reference cycles,
    are collected first: otherwise they keep gloo's group and its threads until the
    interpreter's own teardown, where a rank aborted now and then ("terminate called
    without an active exception": 9 of 37 two-rank runs of tests/training/
    test_distributed.py under load; 0 of 20 with the collection)."""
    if dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()
