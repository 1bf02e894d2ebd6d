"""seq2seq-sweep: many training runs from one command, here or as SLURM jobs (Hydra multirun).

    seq2seq-sweep -m experiment=bible_demo trainer.seed=1,2,3,4,5     # one after another
    seq2seq-sweep -m hydra/launcher=slurm experiment=sutskever2014 \\
        optim.lr=0.5,0.7 hydra.launcher.partition=gpu                  # a SLURM job each

Each combination of the comma-separated values is one `seq2seq-train` run; its run
directory is Hydra's job directory, `runs/sweep/<time>/<job number>` (set `hydra.sweep.dir`
to move it). `hydra/launcher=slurm` (seq2seq/conf/hydra/launcher/slurm.yaml, needs
`pip install 'seq2seq[slurm]'`) submits each run through submitit; with several tasks per
node (`hydra.launcher.tasks_per_node=8`, one per GPU) the tasks train one model together,
data-parallel, exactly as under torchrun. Single runs are simpler with `seq2seq-train`.
"""
from __future__ import annotations

import dataclasses
import logging
import os

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from seq2seq.config.compose import CONF_DIR, config_from_dict, register, validate
from seq2seq.training import distributed
from seq2seq.training.loop import train

register()


def _slurm_ranks() -> None:
    """Under submitit, describe the job's tasks the way torchrun does (RANK, WORLD_SIZE,
    LOCAL_RANK, MASTER_ADDR/PORT), so `seq2seq.training.distributed` needs nothing else."""
    if os.environ.get("SUBMITIT_EXECUTOR") != "slurm":
        return
    from submitit.helpers import TorchDistributedEnvironment
    TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
def app(cfg: DictConfig) -> None:
    typed = config_from_dict(OmegaConf.to_container(cfg, resolve=False))
    validate(typed)
    run_dir = HydraConfig.get().runtime.output_dir
    typed = dataclasses.replace(typed, trainer=dataclasses.replace(typed.trainer,
                                                                   run_dir=run_dir))
    _slurm_ranks()
    ranks = distributed.from_environment()
    logging.getLogger().setLevel(logging.INFO if ranks.main else logging.WARNING)
    try:
        train(typed, ranks)
    finally:
        distributed.stop()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
