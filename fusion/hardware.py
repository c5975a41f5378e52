"""What the machine can do: the precision `auto` resolves to, the cores and the memory a process may still take.

bf16 pays only where the hardware computes it natively: a CUDA GPU with bf16
support, or a CPU with bf16 instructions (x86 AVX512_BF16 or AMX, Arm BF16)
that oneDNN uses. Elsewhere (most AVX2 laptops and servers) oneDNN emulates
it and a conv step runs several times slower than fp32, so `auto` is fp32
there. docs/design.md (Precision) has the measurements.
"""

import logging
import os
from functools import lru_cache
from pathlib import Path

import torch

from fusion.errors import ConfigError, check_choice

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16")
#: CPU flags (as /proc/cpuinfo names them) of native bf16 arithmetic.
BF16_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}


@lru_cache
def _cpuinfo() -> dict[str, str]:
    """/proc/cpuinfo's first value of each key (empty where there is none), read once."""
    path = Path("/proc/cpuinfo")
    info: dict[str, str] = {}
    for line in path.read_text().splitlines() if path.is_file() else []:
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return info


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    info = _cpuinfo()
    return frozenset((info.get("flags") or info.get("Features") or "").split())


def cpu_report() -> dict:
    """The CPU a measurement ran on: model, cores, the vector extensions that set conv speed, native bf16."""
    flags = cpu_flags()
    return {"model": _cpuinfo().get("model name", "unknown"), "cores": os.cpu_count(), "avx2": "avx2" in flags,
            "avx512f": "avx512f" in flags, "native_bf16": native_bf16("cpu")}


def native_bf16(device: str | torch.device) -> bool:
    """Whether `device` (cpu, cuda, cuda:1, ...) computes bf16 natively."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
                    and cpu_flags() & BF16_FLAGS)
    return False


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """`auto` -> `bf16` where `device` has native bf16, else `fp32`; `fp32` and `bf16` stay as asked.

    >>> resolve_precision("fp32", "cpu")
    'fp32'
    """
    check_choice("precision", precision, PRECISIONS)
    if precision != "auto":
        return precision
    chosen = "bf16" if native_bf16(device) else "fp32"
    log.info("precision=auto on %s: %s (%s)", device, chosen,
             "native bf16" if chosen == "bf16" else "no native bf16: emulated bf16 would be slower than fp32")
    return chosen


#: The Lightning precision each of ours runs as.
LIGHTNING_PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed"}


def trainer_precision(precision: str, accelerator: str) -> str:
    """A Trainer's `precision` with `auto`, `fp32` and `bf16` resolved for its accelerator; Lightning's own
    values (`32-true`, `bf16-mixed`, `16-mixed`, ...) pass through.

    >>> trainer_precision("fp32", "gpu"), trainer_precision("16-mixed", "gpu")
    ('32-true', '16-mixed')
    """
    if precision not in PRECISIONS:
        return precision
    wants_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    return LIGHTNING_PRECISION[resolve_precision(precision, "cuda" if wants_gpu else "cpu")]


def pick_device(device: str) -> torch.device:
    """`auto` is the first CUDA GPU if there is one, else the CPU; anything else is taken as a torch device name."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    picked = torch.device(device)
    if picked.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device}, but this torch sees no CUDA GPU; use device=cpu or device=auto")
    return picked


def usable_cores() -> int:
    """The cores this process may run on (its affinity: a SLURM job's or a container's share), at least 1."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


#: A cgroup's memory limit and usage files: v2 (unified), then v1 (its `memory` controller).
_CGROUP_FILES = {"": ("memory.max", "memory.current"), "memory": ("memory.limit_in_bytes", "memory.usage_in_bytes")}


def available_memory(root: Path = Path("/")) -> int:
    """Bytes this process may still take: the machine's MemAvailable, or less where its cgroup or one above it
    (a SLURM job, a container) allows less; 2**50 where neither can be read. `root`: where /proc and /sys are."""
    free = 2**50
    try:
        for line in (root / "proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        groups = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        return free
    for line in groups:
        _, controllers, path = line.split(":", 2)
        if controllers not in _CGROUP_FILES:
            continue
        limit_name, usage_name = _CGROUP_FILES[controllers]
        mount = root / "sys/fs/cgroup" / ("unified" if controllers == "" and (root / "sys/fs/cgroup/unified").is_dir()
                                          else controllers)
        folder = mount / path.lstrip("/")
        for level in (folder, *folder.parents):
            try:
                limit = (level / limit_name).read_text().strip()
                if limit != "max":
                    free = min(free, int(limit) - int((level / usage_name).read_text()))
            except (OSError, ValueError):
                pass
            if level == mount:
                break
    return max(free, 0)
