"""The W&B logger: one W&B run per run folder, and checkpoint uploads refused where they cannot happen."""

import pytest

from fusion.errors import ConfigError
from fusion.tracking import RUN_ID_FILE, run_id, wandb_logger


def test_a_run_folder_keeps_its_wandb_run_id(tmp_path):
    first = run_id(tmp_path / "run")
    assert len(first) == 8 and (tmp_path / "run" / RUN_ID_FILE).read_text() == first
    assert run_id(tmp_path / "run") == first and run_id(tmp_path / "other") != first


def test_checkpoint_artifacts_need_wandb_online(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    with pytest.raises(ConfigError, match="log_model .* needs W&B online: set WANDB_API_KEY"):
        wandb_logger(str(tmp_path), project="fusion", log_model=True)
    assert wandb_logger(str(tmp_path), project="fusion").version == run_id(tmp_path)
