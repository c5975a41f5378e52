"""Run folders: a requeued job finds its own, a new run never finds another's."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fusion.training import run_folder
from fusion.training.run_folder import CLAIM, run_folder_name

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def process(monkeypatch):
    """`process(pid, **slurm)`: name folders as a new process with that pid and those SLURM variables would."""
    def become(pid: int, job=None, step=None, restart=None):
        run_folder._named.clear()
        monkeypatch.setattr(run_folder.os, "getpid", lambda: pid)
        for name, value in (("SLURM_JOB_ID", job), ("SLURM_STEP_ID", step), ("SLURM_RESTART_COUNT", restart)):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, str(value))
        monkeypatch.delenv("SLURM_STEPID", raising=False)
    return become


def name(parent: Path, overrides=("experiment=clips",)) -> str:
    folder = run_folder_name(str(parent), list(overrides))
    (parent / folder / "checkpoints").mkdir(parents=True, exist_ok=True)  # as Hydra and the run would fill it
    return folder


def test_two_runs_in_one_allocation_get_two_folders_and_each_requeue_finds_its_own(tmp_path, process):
    process(100, job=77)
    first = name(tmp_path)
    process(101, job=77)
    second = name(tmp_path)
    process(102, job=77)
    other = name(tmp_path, ["experiment=paper"])
    assert len({first, second, other}) == 3 and first.startswith("77-") and second == first + "-2"
    process(200, job=77, restart=1)  # the requeued job runs the same commands again, in the same order
    assert (name(tmp_path), name(tmp_path, ["experiment=clips"])) == (first, first)  # asked twice: one answer
    process(201, job=77, restart=1)
    assert name(tmp_path) == second
    process(202, job=77, restart=1)
    assert name(tmp_path, ["experiment=paper"]) == other
    claim = json.loads((tmp_path / first / CLAIM).read_text())
    assert (claim["job"], claim["restart"], claim["pid"]) == ("77", 1, 200)


def test_the_tasks_of_one_srun_step_share_a_folder_and_other_steps_do_not(tmp_path, process):
    folders = []
    for pid in (10, 11, 12, 13):
        process(pid, job=5, step=0)
        folders.append(name(tmp_path))
    process(20, job=5, step=1)
    assert len(set(folders)) == 1 and folders[0].startswith("5.0-") and name(tmp_path).startswith("5.1-")
    process(30, job=5, step=0, restart=2)
    assert name(tmp_path) == folders[0]


def test_runs_outside_slurm_started_in_the_same_second_do_not_share(tmp_path, process, monkeypatch):
    monkeypatch.setattr(run_folder.time, "strftime", lambda pattern: "2026-12-05_10-00-00")
    process(1)
    first = name(tmp_path)
    process(2)
    assert (first, name(tmp_path)) == ("2026-12-05_10-00-00", "2026-12-05_10-00-00-2")


def test_a_folder_filled_without_a_claim_is_never_taken(tmp_path, process, monkeypatch):
    process(1, job=9)
    taken = tmp_path / run_folder._base_name(["x=1"], run_folder._slurm())
    (taken / "checkpoints").mkdir(parents=True)
    (taken / "checkpoints" / "last.ckpt").write_bytes(b"another run's")
    assert name(tmp_path, ["x=1"]) == taken.name + "-2"


@pytest.mark.slow
def test_a_second_train_py_in_the_same_job_starts_its_own_run(demo_cache, tmp_path, fast):
    """The same curriculum twice in one SLURM allocation: the second trains from scratch in a folder of its
    own, and the first run's config is not overwritten; the requeue of the first resumes the first."""
    import os

    command = [sys.executable, str(REPO / "train.py"), *fast, "logger=none", f"paths.root_dir={demo_cache}",
               f"paths.output_dir={tmp_path}"]
    env = {**os.environ, "SLURM_JOB_ID": "4242"}
    env.pop("SLURM_STEP_ID", None)
    for _ in range(2):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
    first, second = sorted((tmp_path / "train").iterdir(), key=lambda p: len(p.name))
    assert second.name == first.name + "-2"
    for run in (first, second):
        log = (run / "train.log").read_text()
        assert "resuming" not in log and "finished in" not in log and "stage2-finetune done" in log
        assert (run / "checkpoints" / "last.ckpt").is_file() and (run / ".hydra" / "config.yaml").is_file()
    requeued = subprocess.run(command, env={**env, "SLURM_RESTART_COUNT": "1"}, capture_output=True, text=True,
                              timeout=900)
    assert requeued.returncode == 0, requeued.stderr[-3000:]
    assert "stage2-finetune finished in" in (first / "train.log").read_text()
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == sorted([first.name, second.name])
