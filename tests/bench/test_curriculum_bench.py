"""`python -m fusion.bench curriculum`: the ablation's variants and its summary, without training."""

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from fusion.bench.curriculum import VARIANTS, ssim_at, summarise, time_to_reach, total_steps, variant_curriculum
from fusion.config import CONF, register_configs
from fusion.training.schedule import Curriculum, Stage, phases


@pytest.fixture(scope="module")
def clips() -> dict:
    """The preset the bench reshapes by default: the method as written at the clips' sizes."""
    register_configs()
    overrides = ["experiment=clips", "curriculum=clips_as_written", "footage=x"]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return OmegaConf.to_container(compose("train", overrides=overrides).curriculum)


def plan(curriculum: dict):
    return phases(Curriculum([Stage(**s) for s in curriculum["stages"]], Stage(**curriculum["finetune"])))


def test_every_variant_trains_the_same_steps_and_ends_with_the_same_fine_tune(clips):
    curricula = {v: variant_curriculum(clips, v, final=64, scale=0.5) for v in VARIANTS}
    # The clips_as_written preset cut at 64 px: 600 + 600 + 750 steps and a 300-step fine-tune, halved.
    assert {v: total_steps(c) for v, c in curricula.items()} == dict.fromkeys(VARIANTS, 1125)
    for variant, curriculum in curricula.items():
        steps = plan(curriculum)  # each one a valid curriculum
        assert steps[-1].name == "finetune" and steps[-1].lr == 5e-5 and steps[-1].steps == 150, variant
        assert steps[-1].resolution == 64


def test_variants_differ_in_exactly_their_ingredients(clips):
    def shape(variant):
        steps = plan(variant_curriculum(clips, variant, final=64))
        return ([s.resolution for s in steps], any(s.newest_only for s in steps), [s.quantity for s in steps])

    flat, growth, freeze, shrink, full = (shape(v) for v in VARIANTS)
    assert flat == ([64, 64], False, [400, 400])
    assert growth == ([16, 32, 64, 64], False, [400] * 4)
    assert freeze == ([16, 32, 32, 64, 64, 64], True, [400] * 6)
    # The preset's own shrinking, its fine-tune's 200 crops included.
    assert shrink == ([16, 32, 64, 64], False, [400, 400, 300, 200])
    assert full == ([16, 32, 32, 64, 64, 64], True, [400, 400, 400, 300, 300, 200])
    flat_plan = plan(variant_curriculum(clips, "flat", final=64))
    assert flat_plan[0].steps == 1950 and flat_plan[0].lr == 3e-4  # the 64 px stage's lr, all stage steps
    with pytest.raises(ValueError, match="no stage at 48 px"):
        variant_curriculum(clips, "full", final=48)


def test_summary_times_levels_and_equal_time_ssim():
    records = {
        ("flat", 0): [{"seconds": 10, "resolution": 64, "ssim": 0.70}, {"seconds": 40, "resolution": 64, "ssim": 0.80}],
        ("full", 0): [{"seconds": 5, "resolution": 32, "ssim": 0.90}, {"seconds": 10, "resolution": 64, "ssim": 0.75},
                      {"seconds": 20, "resolution": 64, "ssim": 0.82}],
    }
    # Low-resolution validations never count, however high their SSIM.
    assert time_to_reach(records["full", 0], 0.85, 64) is None
    assert time_to_reach(records["full", 0], 0.80, 64) == 20
    assert ssim_at(records["flat", 0], 20, 64) == 0.70 and ssim_at(records["flat", 0], 5, 64) is None
    table = summarise(records, 64, [0.75, 0.80])
    assert table["equal_time_seconds"] == 20
    assert table["variants"]["full"]["flat_time_over_this"] == {"0.75": 4.0, "0.8": 2.0}
    assert table["variants"]["flat"]["ssim_at_equal_time"]["mean"] == 0.70
    assert table["variants"]["full"]["ssim_at_equal_time"]["mean"] == 0.82


def test_each_clips_preset_is_what_was_measured_best_at_its_size(clips):
    """`clips` is the ablation's growth variant of the method as written (faster and better at 64 and 128 px);
    `clips_quick` stays as written (at its few steps growth lost identity retrieval)."""
    register_configs()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        presets = {name: OmegaConf.to_container(compose("train", overrides=[
            "experiment=clips", f"curriculum={name}", "footage=x"]).curriculum) for name in ("clips", "clips_quick")}
    grown = variant_curriculum(clips, "growth", final=128)
    for stage, expected in zip(presets["clips"]["stages"] + [presets["clips"]["finetune"]],
                               grown["stages"] + [grown["finetune"]]):
        assert {k: stage[k] for k in expected} == expected
    steps = plan(presets["clips"])
    assert not any(s.newest_only for s in steps) and {s.quantity for s in steps} == {400}
    quick = plan(presets["clips_quick"])
    assert [s.name for s in quick if s.newest_only] == ["A"] * 3 and [s.quantity for s in quick][-1] == 200
