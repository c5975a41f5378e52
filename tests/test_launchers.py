"""The cluster launchers (conf/hydra/launcher): what they ask the scheduler for, and who owns the requeue signal.

A real SLURM cluster is not here; the sbatch script submitit would submit is built and read instead.
"""

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import OmegaConf

from fusion.config import CONF, register_configs
from fusion.training.preemption import preemption_signal


def launcher(overrides: list[str], command: str = "train") -> dict:
    """The resolved `hydra.launcher` of `command` composed with `overrides`."""
    register_configs()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(command, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return OmegaConf.to_container(cfg.hydra.launcher, resolve=True)


def sbatch_script(params: dict, folder: Path) -> str:
    """The sbatch file submitit writes for these launcher params (the plugin's mapping, then submitit's own)."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    executor = submitit.AutoExecutor(folder=folder, cluster="slurm", slurm_max_num_timeout=params["max_num_timeout"])
    shared = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{key if key in shared else f"slurm_{key}": value for key, value in params.items()
                                  if key not in {"submitit_folder", "max_num_timeout", "_target_"}})
    return executor._executor._make_submission_file_text("python -m submitit.core._submit", "uid")


@pytest.fixture
def fake_srun(tmp_path, monkeypatch):
    """submitit's SLURM executor refuses to start where there is no `srun`; a stub is enough to build its script."""
    stub = tmp_path / "bin" / "srun"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\nexit 1\n")
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stub.parent}{os.pathsep}{os.environ['PATH']}")


def test_slurm_asks_for_one_task_per_gpu_on_the_trainers_nodes(tmp_path, fake_srun):
    params = launcher(["hydra/launcher=slurm", "trainer=ddp", "trainer.num_nodes=2", "hydra.launcher.partition=gpu"])
    assert (params["nodes"], params["gpus_per_node"], params["tasks_per_node"]) == (2, 8, 8)
    assert params["max_num_timeout"] > 0 and params["signal_delay_s"] == 120
    script = sbatch_script(params, tmp_path / "submitit")
    for line in ("--nodes=2", "--ntasks-per-node=8", "--gpus-per-node=8", "--partition=gpu", "--time=2880",
                 "--signal=USR2@120"):
        assert f"#SBATCH {line}" in script, line


@pytest.mark.parametrize("preset, gpus", [("slurm_shot", 1), ("slurm", 8)])
def test_a_shot_list_runs_on_slurm_as_a_job_array(tmp_path, fake_srun, preset, gpus):
    """swap.py -m ... hydra/launcher=slurm_shot: one GPU a shot, 32 at once; the training preset composes too."""
    params = launcher([f"hydra/launcher={preset}", "hydra.launcher.partition=gpu", "checkpoint=x.ckpt",
                       "identity=a", "input=a.mov", "output=b.mov"], command="swap")
    assert (params["nodes"], params["gpus_per_node"]) == (1, gpus)
    script = sbatch_script({**params, "max_num_timeout": 0}, tmp_path / "submitit")
    assert f"#SBATCH --gpus-per-node={gpus}" in script and "#SBATCH --nodes=1" in script


def test_one_owner_of_the_requeue_signal():
    """submitit's signal is the one training saves on; Lightning's requeue is off (test_training.py)."""
    from submitit.slurm.slurm import SlurmJobEnvironment

    assert preemption_signal().name == f"SIG{SlurmJobEnvironment.USR_SIG}"


def test_submitit_local_builds_its_launcher():
    """The plugin's own config (a conf/ file of the same name would shadow its schema, which Hydra deprecates)."""
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher

    params = launcher(["hydra/launcher=submitit_local"])
    assert params["submitit_folder"].endswith("/.submitit/%j") and params["tasks_per_node"] == 1
    assert isinstance(instantiate(OmegaConf.create(params)), LocalLauncher)
