"""precision=auto: bf16 only where the hardware computes it natively."""

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
