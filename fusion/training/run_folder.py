"""Run folders: one per run, found again by that run's requeue and never by another run.

`train.py`'s run folder is named when Hydra starts (`conf/hydra/default.yaml`). Under SLURM the name
is the job id, the job step (`srun` gives each step its own; the batch script has none) and a digest
of the command's overrides, so a requeued job, which runs the same commands again, finds its own
folders, and two different runs in one allocation do not meet. Each folder holds a claim: which job,
step and incarnation (`SLURM_RESTART_COUNT`) made or resumed it, and the process that did. A second
run with the same name in the same incarnation is another run (the same command run twice, or two at
once), and takes the next free name; the tasks of one `srun` step share their folder; a later
incarnation of the same job and step is the requeue, and takes the folder over. Outside SLURM the
name is the start time, with the same claim keeping two runs of the same second apart.
"""

import hashlib
import json
import os
import socket
import time
from pathlib import Path

#: The claim's file name inside a run folder.
CLAIM = ".fusion_run.json"

_named: dict[tuple, str] = {}


def _slurm() -> dict:
    """This process's SLURM job, step and incarnation (job None outside SLURM)."""
    env = os.environ
    return {"job": env.get("SLURM_JOB_ID"), "step": env.get("SLURM_STEP_ID", env.get("SLURM_STEPID")),
            "restart": int(env.get("SLURM_RESTART_COUNT") or 0)}


def _base_name(overrides: list[str], slurm: dict) -> str:
    if slurm["job"] is None:
        return time.strftime("%Y-%m-%d_%H-%M-%S")
    digest = hashlib.sha256("\n".join(sorted(overrides)).encode()).hexdigest()[:8]
    step = f".{slurm['step']}" if slurm["step"] is not None else ""
    return f"{slurm['job']}{step}-{digest}"


def _staged_claim(folder: Path, mine: dict) -> Path:
    """This process's claim written whole under a name of its own in `folder`, to be moved into place."""
    staged = folder / f".{CLAIM}.{mine['host']}.{mine['pid']}"
    staged.write_text(json.dumps(mine))
    return staged


def _claim(folder: Path, mine: dict) -> bool:
    """Claim `folder` for this run, or tell that it belongs to another (False)."""
    path = folder / CLAIM
    folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        if any(not entry.name.startswith(f".{CLAIM}.") for entry in folder.iterdir()):
            return False  # a folder some other run (or a version without claims) filled
        staged = _staged_claim(folder, mine)
        try:
            os.link(staged, path)  # appears whole, and only once however many processes race for it
            return True
        except FileExistsError:
            pass
        finally:
            staged.unlink()
    found = json.loads(path.read_text())
    if (found.get("host"), found.get("pid")) == (mine["host"], mine["pid"]):
        return True
    same_job = mine["job"] is not None and (found.get("job"), found.get("step")) == (mine["job"], mine["step"])
    if same_job and found.get("restart", 0) < mine["restart"]:  # the requeue of the run that made it
        os.replace(_staged_claim(folder, mine), path)
        return True
    return same_job and mine["step"] is not None and found.get("restart", 0) == mine["restart"]  # one srun's tasks


def run_folder_name(parent: str, overrides) -> str:
    """The name of this run's folder under `parent` (OmegaConf resolver `fusion_run_name`); the folder is
    claimed before Hydra makes it, and asking again in the same process gives the same name.

    >>> import tempfile
    >>> parent = tempfile.mkdtemp()
    >>> run_folder_name(parent, ["seed=1"]) == run_folder_name(parent, ["seed=1"])
    True
    """
    overrides = [str(item) for item in overrides]
    key = (str(parent), tuple(overrides))
    if key not in _named:
        slurm = _slurm()
        mine = {**slurm, "host": socket.gethostname(), "pid": os.getpid(), "overrides": overrides}
        base = _base_name(overrides, slurm)
        number = 1
        while not _claim(Path(parent) / (base if number == 1 else f"{base}-{number}"), mine):
            number += 1
        _named[key] = base if number == 1 else f"{base}-{number}"
    return _named[key]
