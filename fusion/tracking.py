"""W&B through Lightning's logger, offline unless the user has configured a key."""

import netrc
import os
from pathlib import Path

from lightning.pytorch.loggers import WandbLogger


def wandb_key_configured() -> bool:
    """True with WANDB_API_KEY set or a `wandb login` entry in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(Path.home() / ".netrc").authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def wandb_logger(**kwargs) -> WandbLogger:
    """A WandbLogger, online only where a key is configured (WANDB_MODE still wins)."""
    offline = os.environ.get("WANDB_MODE", "online" if wandb_key_configured() else "offline") == "offline"
    return WandbLogger(offline=offline, **kwargs)
