"""The curriculum as data: stages, their validation, and the phases they expand to.

A stage trains at one output resolution on `quantity` crops per identity.
Every stage after the first grows the network by one level, so its
resolution is twice the previous one; its input resolution is either twice
the previous input (a full resolution-update level) or unchanged (a
decoder-only level: output at twice the input). A grown stage runs phase A
(only the new level trains) then phase B (everything trains). A final
fine-tuning stage keeps the resolution and lowers the learning rate.
"""

from dataclasses import dataclass, field
from typing import Optional

from fusion.errors import ConfigError


class ScheduleError(ConfigError):
    """A curriculum that cannot be trained as written."""


@dataclass
class Stage:
    """One stage of a curriculum as configured (conf/curriculum): resolution, data, batch, lr and steps."""

    resolution: int
    quantity: int
    batch_size: int
    lr: float
    steps_a: int = 0
    steps_b: int = 1000
    #: network input size; None = resolution (decoder-only growth: resolution / 2)
    input_resolution: Optional[int] = None
    #: phase-A steps over which the new level fades in (ProGAN); 0 = no fade
    fade_steps: int = 0

    @property
    def input_size(self) -> int:
        """The network's input side at this stage."""
        return self.input_resolution or self.resolution


@dataclass
class Curriculum:
    """The stages, then an optional fine-tuning stage at the last one's resolution and a lower lr."""

    stages: list[Stage] = field(default_factory=list)
    finetune: Optional[Stage] = None


@dataclass(frozen=True)
class Phase:
    """One `fit`: a stage's phase A, B or the fine-tuning, with what it needs."""

    index: int
    stage: int
    name: str
    steps: int
    lr: float
    resolution: int
    input_resolution: int
    quantity: int
    batch_size: int
    newest_only: bool
    fade_steps: int
    #: the network's growth history at this phase: the kind of each grow() ("full" or "decoder_only")
    growth: tuple[str, ...]

    @property
    def label(self) -> str:
        """`stage<k>-<A|B|finetune>`: how checkpoints, previews and logs name the phase."""
        return f"stage{self.stage}-{self.name}"


def _power_of_two(n: int) -> bool:
    return n >= 4 and n & (n - 1) == 0


def validate(curriculum: Curriculum) -> None:
    """Raise ScheduleError naming the stage and the rule it breaks."""
    stages = curriculum.stages
    if not stages:
        raise ScheduleError("the curriculum has no stages")
    for i, stage in enumerate(stages + ([curriculum.finetune] if curriculum.finetune else [])):
        name = "finetune" if i == len(stages) else f"stage {i}"
        if not _power_of_two(stage.resolution) or not _power_of_two(stage.input_size):
            raise ScheduleError(f"{name}: resolution {stage.resolution} and input {stage.input_size} must be powers of two >= 4")
        if stage.input_size not in (stage.resolution, stage.resolution // 2):
            raise ScheduleError(f"{name}: input resolution {stage.input_size} must equal the resolution {stage.resolution} or half of it")
        if min(stage.quantity, stage.batch_size, stage.steps_b) < 1 or stage.steps_a < 0 or stage.lr <= 0:
            raise ScheduleError(f"{name}: quantity, batch_size, steps_b and lr must be positive and steps_a >= 0")
        if stage.fade_steps > stage.steps_a:
            raise ScheduleError(f"{name}: fade_steps {stage.fade_steps} exceed phase A's {stage.steps_a} steps")
    if stages[0].input_size != stages[0].resolution:
        raise ScheduleError("stage 0: the initial network's input and output resolution must match")
    if stages[0].steps_a:
        raise ScheduleError("stage 0: the initial network has no new level, so phase A (steps_a) must be 0")
    for i, (before, stage) in enumerate(zip(stages, stages[1:]), start=1):
        if stage.resolution != 2 * before.resolution:
            raise ScheduleError(f"stage {i}: resolution {stage.resolution} must double stage {i - 1}'s {before.resolution} (one level per stage)")
        if stage.quantity > before.quantity:
            raise ScheduleError(f"stage {i}: quantity {stage.quantity} exceeds stage {i - 1}'s {before.quantity}; quantities never increase")
        if stage.input_size not in (before.input_size, 2 * before.input_size):
            raise ScheduleError(f"stage {i}: input resolution {stage.input_size} must be stage {i - 1}'s {before.input_size} (decoder-only growth) or twice it")
        if before.input_size != before.resolution:
            raise ScheduleError(f"stage {i}: stage {i - 1} already grew decoder-only; only the last growth may be decoder-only")
    if curriculum.finetune:
        last, tune = stages[-1], curriculum.finetune
        if (tune.resolution, tune.input_size) != (last.resolution, last.input_size):
            raise ScheduleError(f"finetune: must keep the last stage's resolution {last.resolution} and input {last.input_size}")
        if tune.quantity > last.quantity:
            raise ScheduleError(f"finetune: quantity {tune.quantity} exceeds the last stage's {last.quantity}")
        if tune.lr >= last.lr:
            raise ScheduleError(f"finetune: lr {tune.lr} must be lower than the last stage's {last.lr}")


def phases(curriculum: Curriculum) -> list[Phase]:
    """The validated curriculum as the ordered list of fits to run."""
    validate(curriculum)
    out: list[Phase] = []
    growth: tuple[str, ...] = ()

    def add(stage_index: int, stage: Stage, name: str, steps: int, newest_only: bool):
        out.append(Phase(len(out), stage_index, name, steps, stage.lr, stage.resolution, stage.input_size,
                         stage.quantity, stage.batch_size, newest_only, stage.fade_steps if newest_only else 0, growth))

    for i, stage in enumerate(curriculum.stages):
        if i:
            decoder_only = stage.input_size == curriculum.stages[i - 1].input_size
            growth += ("decoder_only" if decoder_only else "full",)
        if stage.steps_a:
            add(i, stage, "A", stage.steps_a, True)
        add(i, stage, "B", stage.steps_b, False)
    if curriculum.finetune:
        add(len(curriculum.stages), curriculum.finetune, "finetune", curriculum.finetune.steps_b, False)
    return out


def check_world_size(plan: list[Phase], world_size: int) -> None:
    """Every phase's global batch must split evenly over the DDP processes; checked for the whole plan up front,
    not hours in at the first stage that does not divide."""
    bad = {}
    for phase in plan:
        if phase.batch_size % world_size:
            key = "curriculum.finetune" if phase.name == "finetune" else f"curriculum.stages.{phase.stage}"
            bad[key] = phase.batch_size
    if bad:
        fixes = ", ".join(f"{key}.batch_size={size} (e.g. {max(world_size, size // world_size * world_size)})"
                          for key, size in bad.items())
        raise ScheduleError(f"{fixes}: each batch must divide over the {world_size} training processes "
                            f"(trainer.devices x trainer.num_nodes); use multiples of {world_size} or fewer devices")
