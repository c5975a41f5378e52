"""W&B through Lightning's logger: offline unless the user has configured a key, one W&B run per run folder."""

import netrc
import os
import secrets
from pathlib import Path

from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.loggers import WandbLogger

from fusion.errors import ConfigError
from fusion.io.atomic import write_bytes

RUN_ID_FILE = "wandb_run_id"


def wandb_key_configured() -> bool:
    """True with WANDB_API_KEY set or a `wandb login` entry in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(Path.home() / ".netrc").authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def run_id(save_dir: Path) -> str:
    """The W&B run id of the run folder `save_dir`: kept in its `wandb_run_id` file (made by rank zero on
    first use), so a resumed or requeued run goes on in the same W&B run."""
    path = save_dir / RUN_ID_FILE
    if path.is_file():
        return path.read_text().strip()
    made = secrets.token_hex(4)  # W&B's own ids are 8 characters of [a-z0-9] too
    if rank_zero_only.rank == 0:
        save_dir.mkdir(parents=True, exist_ok=True)
        write_bytes(path, made.encode())
    return made


class CurriculumWandbLogger(WandbLogger):
    """A WandbLogger whose step axis runs on across the curriculum's phases.

    Each phase is its own fit, whose `global_step` starts at 0 again; `step_offset` (the steps of the
    phases before, set by the run) keeps W&B's `trainer/global_step` rising, so a chart shows the
    phases one after another instead of on top of each other.
    """

    step_offset = 0

    def log_metrics(self, metrics, step=None) -> None:
        super().log_metrics(metrics, None if step is None else step + self.step_offset)


def wandb_logger(save_dir: str, **kwargs) -> CurriculumWandbLogger:
    """A WandbLogger writing under `save_dir`, online only where a key is configured (WANDB_MODE still
    wins), continuing the folder's W&B run where it has one."""
    offline = os.environ.get("WANDB_MODE", "online" if wandb_key_configured() else "offline") == "offline"
    if offline and kwargs.get("log_model"):
        raise ConfigError("logger.log_model uploads checkpoints as W&B artifacts, which needs W&B online: set "
                          "WANDB_API_KEY or run `wandb login` (or leave log_model false; the checkpoints stay in the "
                          "run folder)")
    return CurriculumWandbLogger(offline=offline, save_dir=save_dir, id=run_id(Path(save_dir)), resume="allow", **kwargs)
