"""The phase line's time estimate: the previous phase's measured rate, scaled by the work per step."""

from fusion.training.console import PhaseProgress
from fusion.training.schedule import Phase


def phase(resolution: int, batch: int, steps: int) -> Phase:
    return Phase(index=0, stage=0, name="B", steps=steps, lr=1e-3, resolution=resolution, input_resolution=resolution,
                 quantity=10, batch_size=batch, newest_only=False, fade_steps=0, growth=())


def test_the_estimate_scales_the_measured_rate_by_pixels_and_batch():
    assert PhaseProgress(phase(32, 8, 100)).estimate() is None  # the first phase has nothing measured yet
    # 0.5 s/step at 32 px, batch 8 -> 64 px, batch 4 does 2x the work per step: 1 s/step, 200 steps
    assert PhaseProgress(phase(64, 4, 200), previous=(phase(32, 8, 100), 0.5)).estimate() == 200.0
