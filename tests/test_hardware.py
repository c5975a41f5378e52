"""precision=auto: bf16 only where the hardware computes it natively; the memory a process may still take."""

import pytest
import torch

from fusion import hardware
from fusion.errors import ConfigError


@pytest.mark.parametrize("flags,expected", [({"avx2", "fma"}, "fp32"), ({"avx512f", "avx512_bf16"}, "bf16"),
                                            ({"amx_bf16"}, "bf16")])
def test_auto_follows_the_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    if expected == "bf16" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        expected = "fp32"  # this torch's oneDNN has no bf16 kernels at all
    assert hardware.resolve_precision("auto", "cpu") == expected
    assert hardware.trainer_precision("auto", "cpu") == {"fp32": "32-true", "bf16": "bf16-mixed"}[expected]


def test_explicit_values_win(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx2"}))
    assert hardware.resolve_precision("bf16", "cpu") == "bf16"
    assert hardware.trainer_precision("bf16", "cpu") == "bf16-mixed"
    assert hardware.trainer_precision("32-true", "cpu") == "32-true"
    with pytest.raises(ConfigError, match="precision=fp16: choose one of auto, fp32, bf16"):
        hardware.resolve_precision("fp16", "cpu")


def test_this_machine_reads_its_flags():
    """/proc/cpuinfo is read (an x86 or Arm Linux machine always lists some flags)."""
    assert len(hardware.cpu_flags()) > 5


def fake_machine(root, cgroup: str, files: dict[str, str], available_kb: int = 64 * 2**20):
    """A /proc and /sys under `root`: MemAvailable `available_kb`, this process in `cgroup` (/proc/self/cgroup's
    text), and cgroup `files` (path under sys/fs/cgroup -> content)."""
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/meminfo").write_text(f"MemTotal: {2 * available_kb} kB\nMemAvailable: {available_kb} kB\n")
    (root / "proc/self/cgroup").write_text(cgroup)
    for path, text in files.items():
        (root / "sys/fs/cgroup" / path).parent.mkdir(parents=True, exist_ok=True)
        (root / "sys/fs/cgroup" / path).write_text(text)
    return root


def test_available_memory_keeps_within_the_tightest_cgroup_above_the_process(tmp_path):
    gib = 2**30
    unlimited = fake_machine(tmp_path / "a", "0::/job/step\n",
                             {"job/memory.max": "max\n", "job/step/memory.max": "max\n"})
    assert hardware.available_memory(unlimited) == 64 * gib  # the machine's MemAvailable
    slurm = fake_machine(tmp_path / "b", "0::/job/step\n", {"job/memory.max": f"{32 * gib}\n",
                                                            "job/memory.current": f"{20 * gib}\n",
                                                            "job/step/memory.max": "max\n"})
    assert hardware.available_memory(slurm) == 12 * gib  # the job's limit less what it uses, not the node's free memory
    v1 = fake_machine(tmp_path / "c", "4:memory:/docker/abc\n1:cpu:/\n",
                      {"memory/docker/abc/memory.limit_in_bytes": f"{8 * gib}\n",
                       "memory/docker/abc/memory.usage_in_bytes": f"{3 * gib}\n",
                       "memory/memory.limit_in_bytes": "9223372036854771712\n",
                       "memory/memory.usage_in_bytes": f"{40 * gib}\n"})
    assert hardware.available_memory(v1) == 5 * gib
    assert 0 < hardware.available_memory() < 2**50  # this machine's own files are read
