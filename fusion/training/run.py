"""What `python train.py` does: one Lightning fit per curriculum phase.

A fresh Trainer per phase rebuilds the DDP wrapper and the optimizer after
every growth and every freeze or unfreeze (docs/design.md (The DDP trap));
the module and its weights carry over. Checkpoints name the phase and the network's
growth, so a killed run resumes in the same phase at the same step.
"""

import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins.environments import SLURMEnvironment
from omegaconf import DictConfig, OmegaConf

from fusion.command_line import command_line
from fusion.errors import CheckpointError
from fusion.hardware import trainer_precision
from fusion.instantiate import build
from fusion.model.checkpoint import read_checkpoint
from fusion.progress import duration
from fusion.tracking import CurriculumWandbLogger
from fusion.training.callback import CurriculumCallback, enter_phase
from fusion.training.checkpoint_io import AtomicCheckpointIO
from fusion.training.console import PhaseProgress, quiet_lightning
from fusion.training.divergence import DivergenceGuard, TrainingDiverged
from fusion.training.memory_plan import warn_if_out_of_memory
from fusion.training.preemption import PreemptionWatch, ValidationStopped
from fusion.training.schedule import Phase, check_world_size, phases

log = logging.getLogger(__name__)


def find_checkpoint(ckpt_path: str | None, run_dir: Path, outputs: Path) -> Path | None:
    """The checkpoint to resume from: an explicit path; `last` = the newest run's
    last.ckpt; none given = this run folder's own last.ckpt if it has one (a
    requeued SLURM job lands in the same folder and so resumes by itself)."""
    if ckpt_path == "last":
        found = sorted(outputs.glob("*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise CheckpointError(f"ckpt_path=last: no run under {outputs} has checkpoints/last.ckpt; "
                                  "start without ckpt_path, or pass a checkpoint file")
        return found[-1]
    if ckpt_path:
        path = Path(ckpt_path)
        if not path.is_file():
            raise CheckpointError(f"ckpt_path={path} does not exist; pass a .ckpt from <run>/checkpoints/ or ckpt_path=last")
        return path
    own = run_dir / "checkpoints" / "last.ckpt"
    return own if own.is_file() else None


def cluster_plugins() -> list:
    """Under SLURM: Lightning's SLURM environment with its own requeue off.

    On SIGUSR1 that requeue saves ``hpc_ckpt_N.ckpt`` in the run folder, and
    Lightning then resumes *every* later fit given no checkpoint from it: with
    one fit per phase, a later phase would load an earlier phase's network.
    A requeued job resumes through our own checkpoints instead (its run
    folder is keyed by the job id; `checkpoint_every` bounds what it loses).
    """
    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []


def resume_point(checkpoint: Path | None, saved: dict | None, plan: list[Phase], module) -> tuple[int, Path | None]:
    """(first phase to run, checkpoint to pass to its fit), from the checkpoint's `saved` content."""
    if checkpoint is None:
        return 0, None
    info = saved["fusion"]
    phase = plan[info["phase"]] if info["phase"] is not None and info["phase"] < len(plan) else None
    if phase is None or list(phase.growth) != info["growth"]:
        raise CheckpointError(f"{checkpoint} is from another curriculum (phase {info['phase']}, growth {info['growth']}); "
                              "resume with the curriculum it was trained with, or start a fresh run without ckpt_path")
    if saved["global_step"] < phase.steps:
        log.info("resuming %s at step %d of %d from %s", phase.label, saved["global_step"], phase.steps, checkpoint)
        return phase.index, checkpoint
    enter_phase(module, phase)
    module.load_state_dict(module.with_average(saved["state_dict"]))
    log.info("%s finished in %s; continuing with the next phase", phase.label, checkpoint)
    return phase.index + 1, None


def parameter_digest(module: torch.nn.Module) -> str:
    """SHA-256 of every parameter's bytes: equal on all ranks or DDP has drifted."""
    digest = hashlib.sha256()
    for name, parameter in module.named_parameters():
        digest.update(name.encode())
        digest.update(parameter.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def check_ranks_agree(module: torch.nn.Module, label: str) -> str:
    """Compare the parameter digest across DDP ranks; raise if any rank differs."""
    digest = parameter_digest(module)
    digests = [digest]
    if dist.is_available() and dist.is_initialized():
        digests = [None] * dist.get_world_size()
        dist.all_gather_object(digests, digest)
    log.log(logging.INFO if len(digests) > 1 else logging.DEBUG, "%s parameter digest per rank: %s", label, digests)
    if len(set(digests)) > 1:
        raise RuntimeError(f"{label}: DDP ranks hold different parameters {digests}")
    return digest


def _diverged_message(phase: Phase, plan: list[Phase], reason: str, checkpoints: Path) -> str:
    """What diverged and how to go on: a lower lr for the phase, from the checkpoint that ended the one before."""
    key = "curriculum.finetune.lr" if phase.name == "finetune" else f"curriculum.stages.{phase.stage}.lr"
    where = (f"ckpt_path={checkpoints / plan[phase.index - 1].label}.ckpt (the end of the phase before)"
             if phase.index else "a fresh run")
    return (f"{phase.label} diverged: {reason}. Lower its learning rate ({key}={phase.lr:g} now) and go on from "
            f"{where}; the checkpoints written during {phase.label}, last.ckpt among them, hold diverged weights.")


@dataclass
class TrainResult:
    """What a finished run leaves: its folder, the checkpoint to swap with, the held-out metrics of its last
    phase, the identities in decoder order, the footage it learned from, and its wall time."""

    run_dir: Path
    checkpoint: Path
    metrics: dict = field(default_factory=dict)
    identities: list[str] = field(default_factory=list)
    footage: Path | None = None
    seconds: float = 0.0

    def summary(self) -> list[str]:
        """The closing lines: where the model and previews are, how it scored, and the swap to try next."""
        previews = sorted((self.run_dir / "previews").glob("*.png"), key=lambda p: p.stat().st_mtime)
        scores = ", ".join(f"{name} {self.metrics[f'val/ssim/{name}']:.3f}" for name in self.identities
                           if f"val/ssim/{name}" in self.metrics)
        plate = next(iter(sorted((self.footage / self.identities[0]).glob("*.*"))), None) if self.footage else None
        swap = command_line("swap.py", {"checkpoint": self.checkpoint, "identity": self.identities[-1],
                                        "input": plate or f"<a plate of {self.identities[0]}>",
                                        "output": "swapped.mp4", "preview": True})
        return [f"trained in {duration(self.seconds)}: {self.checkpoint}",
                f"previews: {previews[-1] if previews else self.run_dir / 'previews'} (and the phases before it)",
                f"held-out masked SSIM {self.metrics.get('val/ssim', float('nan')):.3f}"
                f" ({scores}), PSNR {self.metrics.get('val/psnr', float('nan')):.1f} dB",
                f"try: {swap}"]


def _phase_saver(cfg: DictConfig, checkpoints: Path, phase: Phase) -> ModelCheckpoint:
    """The phase's periodic checkpoints (`checkpoint_every` steps, the latest kept) and last.ckpt."""
    return ModelCheckpoint(dirpath=checkpoints, filename=f"{phase.label}-step{{step:06d}}", auto_insert_metric_name=False,
                           every_n_train_steps=cfg.checkpoint_every, save_top_k=1, save_last=True,
                           enable_version_counter=False)


def _hand_on(trainer: Trainer, module, datamodule, phase: Phase, plan: list[Phase], guard: list,
             checkpoints: Path, preemption: PreemptionWatch) -> dict:
    """A phase's end: validate the weights it hands on (unless its last step just did), stop on divergence,
    check that the ranks agree, save `<phase>.ckpt` and last.ckpt, stop if a signal came; its metrics."""
    if trainer.global_step % trainer.val_check_interval and not (guard and guard[0].reason):
        with contextlib.suppress(ValidationStopped):  # a signal: the phase's end is saved first
            trainer.validate(module, datamodule=datamodule, verbose=False)
    if guard and guard[0].reason:
        raise TrainingDiverged(_diverged_message(phase, plan, guard[0].reason, checkpoints))
    check_ranks_agree(module, phase.label)
    trainer.save_checkpoint(checkpoints / f"{phase.label}.ckpt")
    trainer.save_checkpoint(checkpoints / "last.ckpt")
    preemption.check_all(trainer)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    log.info("%s done: held-out masked SSIM %.3f, PSNR %.1f dB", phase.label, metrics.get("val/ssim", float("nan")),
             metrics.get("val/psnr", float("nan")))
    return metrics


def train(cfg: DictConfig, extra_callbacks: list | None = None) -> TrainResult:
    """Run (or resume) the configured curriculum; returns where it left the model and how it scored.

    `extra_callbacks` join every phase's Trainer (tests use them to interrupt a run).
    """
    started = time.monotonic()
    quiet_lightning()
    plan = phases(OmegaConf.to_object(cfg.curriculum))
    precision = trainer_precision(str(cfg.trainer.get("precision", "auto")), str(cfg.trainer.get("accelerator", "auto")))
    world = build(cfg.trainer, logger=False, enable_checkpointing=False, plugins=cluster_plugins(),
                  precision=precision).world_size
    check_world_size(plan, world)
    log.info("training on %s x %d (%s), precision %s, %d phases", str(cfg.trainer.get("accelerator", "auto")), world,
             f"{cfg.trainer.get('num_nodes', 1)} node(s)", precision, len(plan))
    checkpoint = find_checkpoint(cfg.get("ckpt_path"), Path(cfg.paths.run_dir), Path(cfg.paths.output_dir) / cfg.task_name)
    saved = read_checkpoint(checkpoint) if checkpoint else None  # refuse an unsafe or foreign file before any work
    run_dir = checkpoint.parent.parent if checkpoint else Path(cfg.paths.run_dir)
    datamodule = build(cfg.data, _convert_="all")
    warn_if_out_of_memory(cfg, world, precision, identities=len(datamodule.identities))
    module = build(cfg.model, _convert_="all", identities=datamodule.identities, run_dir=str(run_dir),
                   net={**OmegaConf.to_container(cfg.model.net), "resolution": plan[0].input_resolution})
    module.crop = datamodule.crop.recorded()
    logger = build(cfg.logger, save_dir=str(run_dir)) if cfg.get("logger") else False
    if logger:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    start, ckpt_path = resume_point(checkpoint, saved, plan, module)
    del saved  # its tensors are in the module now, or will be loaded by the fit
    metrics: dict = {}
    guard = [DivergenceGuard(**OmegaConf.to_container(cfg.divergence))] if cfg.get("divergence") else []
    checkpoints = run_dir / "checkpoints"
    measured: tuple[Phase, float] | None = None
    with PreemptionWatch(checkpoints / "last.ckpt") as preemption:
        datamodule.safe_point = preemption.check
        for phase in plan[start:]:
            datamodule.phase = phase
            if isinstance(logger, CurriculumWandbLogger):
                logger.step_offset = sum(earlier.steps for earlier in plan[:phase.index])
            progress = PhaseProgress(phase, measured)
            callbacks = [CurriculumCallback(phase), _phase_saver(cfg, checkpoints, phase), preemption, progress,
                         *guard, *(extra_callbacks or [])]
            trainer = build(cfg.trainer, max_steps=phase.steps, logger=logger, default_root_dir=str(run_dir),
                            precision=precision, callbacks=callbacks,
                            val_check_interval=min(cfg.val_every, phase.steps), check_val_every_n_epoch=None,
                            # no_grad, not inference mode: metric states made in a phase-end validate
                            # are updated in place by the next fit
                            inference_mode=False, plugins=[*cluster_plugins(), AtomicCheckpointIO()],
                            enable_progress_bar=False)
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
            ckpt_path = None
            metrics = _hand_on(trainer, module, datamodule, phase, plan, guard, checkpoints, preemption)
            if progress.seconds_per_step:
                measured = (phase, progress.seconds_per_step)
    return TrainResult(run_dir, checkpoints / "last.ckpt", metrics, list(datamodule.identities),
                       datamodule.footage_root(), time.monotonic() - started)
