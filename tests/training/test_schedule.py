"""Curricula: invalid schedules are refused with the rule they break; experiments and typos in the composed config."""

import pytest

from fusion.training.schedule import Curriculum, ScheduleError, Stage, phases


@pytest.mark.parametrize("change,message", [
    ({1: {"resolution": 48}}, "powers of two"),
    ({1: {"resolution": 64}}, "must double"),
    ({1: {"quantity": 50}}, "quantities never increase"),
    ({0: {"steps_a": 5}}, "phase A"),
    ({1: {"input_resolution": 8}}, "must equal the resolution"),
    ({1: {"fade_steps": 9}}, "fade_steps"),
])
def test_invalid_schedules_are_rejected(change, message):
    stages = [Stage(16, 20, 4, 1e-3, 0, 6), Stage(32, 12, 4, 1e-3, 4, 4)]
    for index, fields in change.items():
        for key, value in fields.items():
            setattr(stages[index], key, value)
    with pytest.raises(ScheduleError, match=message):
        phases(Curriculum(stages))


def test_decoder_only_growth_must_be_last():
    stages = [Stage(16, 20, 4, 1e-3, 0, 6), Stage(32, 12, 4, 1e-3, 4, 4, input_resolution=16),
              Stage(64, 12, 4, 1e-3, 4, 4, input_resolution=32)]
    with pytest.raises(ScheduleError, match="only the last growth"):
        phases(Curriculum(stages))
    plan = phases(Curriculum(stages[:2], Stage(32, 10, 4, 1e-4, 0, 2, input_resolution=16)))
    assert [p.growth for p in plan] == [(), ("decoder_only",), ("decoder_only",), ("decoder_only",)]
    with pytest.raises(ScheduleError, match="lower"):
        phases(Curriculum(stages[:2], Stage(32, 10, 4, 1e-3, 0, 2, input_resolution=16)))


def test_experiment_overrides_the_defaults(tmp_path, compose):
    cfg = compose("train", ["experiment=clips", "footage=/footage"], root=tmp_path)
    assert (cfg.task_name, cfg.val_every, cfg.data.footage) == ("clips", 300, "/footage")
    assert cfg.curriculum.stages[-1].resolution == 128


def test_curriculum_typo_is_an_error(tmp_path, compose):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="stepsb"):
        compose("train", ["curriculum.stages.0.stepsb=5"], root=tmp_path)
