"""Two nodes of two processes each, on this machine: gloo over loopback, ranks and addresses from the
variables `srun` sets, as `trainer.num_nodes=2` runs on a cluster."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow  # five runs of four (or one) training processes on two cores: a few minutes

REPO = Path(__file__).resolve().parents[2]
NODES, PER_NODE = 2, 2
#: stage1-B long enough to be interrupted in the middle
LONGER = ["logger=none", "curriculum.stages.1.steps_b=12"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(overrides: list[str], outputs: Path, job: str, port: int, restart: int = 0) -> list[subprocess.Popen]:
    """Start the job step's tasks: one `python train.py` per rank, with what `srun` would give each."""
    tasks = []
    for rank in range(NODES * PER_NODE):
        env = {**os.environ, "SLURM_JOB_ID": job, "SLURM_STEP_ID": "0", "SLURM_JOB_NAME": "fusion",
               "SLURM_RESTART_COUNT": str(restart), "SLURM_NTASKS": str(NODES * PER_NODE),
               "SLURM_NTASKS_PER_NODE": str(PER_NODE), "SLURM_NNODES": str(NODES), "SLURM_PROCID": str(rank),
               "SLURM_LOCALID": str(rank % PER_NODE), "SLURM_NODEID": str(rank // PER_NODE),
               "SLURM_NODELIST": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}
        command = [sys.executable, str(REPO / "train.py"), *overrides, "trainer=ddp_cpu", f"trainer.devices={PER_NODE}",
                   f"trainer.num_nodes={NODES}", f"paths.output_dir={outputs}"]
        tasks.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    return tasks


def finish(tasks: list[subprocess.Popen], timeout: float = 600) -> list[int]:
    """Wait for every task; their exit codes."""
    for task in tasks:
        try:
            task.wait(timeout=timeout)
        finally:
            task.kill()
    return [task.returncode for task in tasks]


def succeed(tasks: list[subprocess.Popen]) -> None:
    """Wait for every task; fail with what each said unless all exit 0."""
    if finish(tasks) != [0] * len(tasks):
        pytest.fail("\n".join(f"rank {rank} exit {task.returncode}: {task.stderr.read()[-3000:]}"
                               for rank, task in enumerate(tasks)), pytrace=False)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def digests(log: str) -> list[tuple[str, list[str]]]:
    """The parameter digest of every rank at every phase's end, as each run logged it."""
    return [(label, re.findall(r"'(\w+)'", ranks))
            for label, ranks in re.findall(r"(stage\S+) parameter digest per rank: \[(.*?)\]", log)]


@pytest.fixture(scope="module")
def runs(demo_cache, tmp_path_factory, fast_overrides):
    """The uninterrupted two-node run and its one-process twin (the same global batch, the same data)."""
    root = tmp_path_factory.mktemp("nodes")
    command = [*fast_overrides, *LONGER, f"paths.root_dir={demo_cache}"]
    tasks = launch(command, root / "nodes", "7001", free_port())
    single = subprocess.run([sys.executable, str(REPO / "train.py"), *command, f"hydra.run.dir={root / 'single'}"],
                            capture_output=True, text=True, timeout=600)
    succeed(tasks)
    assert single.returncode == 0, single.stderr[-2000:]
    (run,) = (root / "nodes" / "train").iterdir()
    return command, run, root / "single"


def test_every_rank_of_two_nodes_ends_each_phase_with_the_same_weights(runs):
    _, run, _ = runs
    assert run.name.startswith("7001.0-")  # the four tasks of the step found one run folder
    phases = digests((run / "train.log").read_text())
    labels = {"stage0-B", "stage1-A", "stage1-B", "stage2-finetune"}
    assert {label: sum(1 for x, _ in phases if x == label) for label in labels} == dict.fromkeys(labels, 4)  # each rank
    for label, ranks in phases:
        assert len(ranks) == 4 and len(set(ranks)) == 1, (label, ranks)


def held_out_ssim(log: str) -> float:
    return float(re.findall(r"stage2-finetune done: held-out masked SSIM ([\d.]+)", log)[0])


def test_two_nodes_train_as_one_process_with_the_same_global_batch(runs):
    """Equal up to the order of float sums: in the first phase a mean 1e-5 apart, and where a gradient is at
    rounding level Adam turns its sign into a whole step of lr 1e-3, so a few weights differ by a few steps
    (max 1.3e-3 and 2.3e-3 on the demo footage as OpenCV and as PyAV decode it); after the growth, twelve
    steps amplify it: two one-process runs that differ only in their thread count end a mean 2e-4 apart
    (max 6e-3), so the whole run is held to that scale and to the same held-out SSIM."""
    _, run, single = runs
    checkpoints = run / "checkpoints", single / "checkpoints"
    first = [weights(folder / "stage0-B.ckpt") for folder in checkpoints]
    keys = [k for k in first[1] if first[1][k].is_floating_point()]
    assert sum(float((first[0][k] - first[1][k]).abs().mean()) for k in keys) / len(keys) < 1e-4
    assert max(float((first[0][k] - first[1][k]).abs().max()) for k in keys) < 5e-3
    ours, reference = (weights(folder / "last.ckpt") for folder in checkpoints)
    keys = [k for k in reference if k.startswith("net.")]
    assert sum(float((ours[k] - reference[k]).abs().mean()) for k in keys) / len(keys) < 1e-3
    assert held_out_ssim((run / "train.log").read_text()) == pytest.approx(
        held_out_ssim((single / "train.log").read_text()), abs=0.01)


def test_a_preempted_then_killed_job_resumes_to_the_uninterrupted_weights(runs, tmp_path):
    """SIGUSR2 to one process of the second node: every rank stops after the same step, and rank zero alone
    saves; the requeued job goes on; then the second node dies mid-phase (SLURM ends the job); the requeued
    job resumes from the last checkpoint and ends where the uninterrupted run did."""
    command, reference, _ = runs
    outputs = tmp_path / "outputs"
    tasks = launch(command, outputs, "7002", free_port())
    deadline = time.monotonic() + 600
    while not list(outputs.glob("train/*/checkpoints/stage0-B-step*.ckpt")):
        assert all(task.poll() is None for task in tasks) and time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(tasks[3].pid, signal.SIGUSR2)
    assert finish(tasks) == [1] * 4  # RunStopped: one line and exit 1 on every rank
    (run,) = (outputs / "train").iterdir()
    log = (run / "train.log").read_text()
    assert log.count("received SIGUSR2") == 1
    [saved] = re.findall(r"stopped by SIGUSR2 \(received by rank 3\): rank 0 saved (\S+)", log)
    assert Path(saved) == run / "checkpoints" / "last.ckpt" and log.count("stopped by SIGUSR2") == 1
    assert not list(run.rglob("*.partial*"))

    tasks = launch(command, outputs, "7002", free_port(), restart=1)
    while not (run / "checkpoints" / "stage1-B-step000004.ckpt").is_file():  # last.ckpt is then in stage1-B
        assert all(task.poll() is None for task in tasks) and time.monotonic() < deadline
        time.sleep(0.05)
    for task in tasks[2:]:
        task.kill()  # the second node is lost ...
    for task in tasks[:2]:
        task.kill()  # ... and SLURM ends the job's other tasks
    finish(tasks)
    assert (run / "checkpoints" / "last.ckpt").is_file()

    tasks = launch(command, outputs, "7002", free_port(), restart=2)
    succeed(tasks)
    assert sorted(p.name for p in (outputs / "train").iterdir()) == [run.name]  # every incarnation in one folder
    log = (run / "train.log").read_text()
    assert re.search(r"resuming stage1-B at step \d+", log)
    ours, uninterrupted = weights(run / "checkpoints" / "last.ckpt"), weights(reference / "checkpoints" / "last.ckpt")
    for key in uninterrupted:
        torch.testing.assert_close(ours[key], uninterrupted[key], atol=1e-6, rtol=0)
