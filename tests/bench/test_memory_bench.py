"""`python -m fusion.bench memory` and training's GPU memory check (`fusion.training.memory_plan`)."""

import copy
import json
import logging
from types import SimpleNamespace

import pytest
import torch
from hydra import compose, initialize_config_dir
from lightning.fabric.utilities.rank_zero import rank_zero_only

from fusion.bench.__main__ import main as bench_main
from fusion.bench.memory import SavedTensorMeter, extrapolate
from fusion.config import CONF, register_configs
from fusion.training import memory_plan
from fusion.training.memory_plan import (
    CUDA_ALLOWANCE,
    GIB,
    largest_batch,
    peak_bytes,
    phase_parameters,
    predict_peak_memory,
    state_bytes,
    warn_if_out_of_memory,
)
from fusion.training.schedule import Curriculum, Stage, phases


def conv_parameters(c_in: int, c_out: int, kernel: int) -> int:
    return c_in * c_out * kernel * kernel + c_out  # weight and bias


def test_parameters_and_optimizer_state_match_a_hand_count():
    # fusion/conf/curriculum/tiny.yaml's shape: 16 px, then 32 px with a phase A, then a fine-tune.
    plan = phases(Curriculum([Stage(16, 20, 4, 1e-3, 0, 6), Stage(32, 12, 4, 1e-3, 4, 4, fade_steps=2)],
                             Stage(32, 12, 4, 1e-4, 0, 2)))
    # Width multiplier 1/64: 8 channels at every level up to 32 px; latent 8; two identities.
    encoder = (conv_parameters(8, 8, 3) + conv_parameters(8, 8, 4)  # bottom: 3x3, then 4x4 to the latent
               + 2 * 2 * conv_parameters(8, 8, 3)                  # levels 1, 2: two 3x3 each
               + conv_parameters(3, 8, 1))                         # fromRGB at 16 px
    shared = (8 * 8 * 16 + 8 + conv_parameters(8, 8, 3)           # decoder bottom: 4x4 transposed, 3x3
              + 2 * conv_parameters(8, 8, 3))                      # level 1
    per_identity = 2 * conv_parameters(8, 8, 3) + conv_parameters(8, 3, 1)  # level 2 and its toRGB
    stage0 = encoder + shared + 2 * per_identity
    assert stage0 == 9158
    # Growing to 32 px adds an encoder level and fromRGB, and a level and toRGB per identity (the old
    # fromRGB and toRGB stay for the fade-in); phase A trains only those.
    new = 2 * conv_parameters(8, 8, 3) + conv_parameters(3, 8, 1) + 2 * per_identity
    counts = phase_parameters({"width_multiplier": 1 / 64}, plan, identities=2, ema=True)
    assert counts == [
        {"parameters": stage0, "ema_parameters": stage0, "trainable_parameters": stage0},
        {"parameters": stage0 + new, "ema_parameters": stage0 + new, "trainable_parameters": new},
        {"parameters": stage0 + new, "ema_parameters": stage0 + new, "trainable_parameters": stage0 + new},
        {"parameters": stage0 + new, "ema_parameters": stage0 + new, "trainable_parameters": stage0 + new},
    ]
    assert new == 3590
    # fp32 weights and average of all; gradients, Adam's two moments, DDP's bucket copy and the update's
    # temporary of what trains (phase A: the new level only).
    assert state_bytes(counts[1], world=8) == {"weights": 4 * 12748, "ema": 4 * 12748, "grads": 4 * 3590,
                                               "adam": 8 * 3590, "ddp_buckets": 4 * 3590, "adam_update": 4 * 3590}
    assert state_bytes(counts[2], world=1)["ddp_buckets"] == 0
    assert phase_parameters({"width_multiplier": 1 / 64}, plan, 2, ema=False)[0]["ema_parameters"] == 0


def test_peak_and_largest_batch_add_up():
    state = {"weights": 100, "ema": 100, "grads": 50, "adam": 100, "ddp_buckets": 50, "adam_update": 50}
    # Held 350; the step (fixed 20 + 30 per sample) against the optimizer step's 100.
    assert peak_bytes(state, 20, 30, 4, allowance=0) == 350 + 140
    assert peak_bytes(state, 20, 30, 1, allowance=0) == 350 + 100
    assert largest_batch(state, 20, 30, 350 + 140, allowance=0) == 4
    assert largest_batch(state, 20, 30, 350 + 169, allowance=0) == 4
    assert largest_batch(state, 20, 30, 350 + 99, allowance=0) == 0
    assert peak_bytes(state, 20, 30, 4) == 490 + CUDA_ALLOWANCE


def test_saved_tensor_meter_counts_what_a_conv_saves():
    conv = torch.nn.Conv2d(2, 3, 3, padding=1)
    x = torch.randn(1, 2, 5, 5)
    with SavedTensorMeter(exclude=list(conv.parameters())) as meter:
        y = conv(x)
        (y * y).sum()
    # The conv saves its input (its weight is a parameter: left out); y * y saves y, counted once.
    assert meter.bytes == 1 * 2 * 5 * 5 * 4 + 1 * 3 * 5 * 5 * 4 == 500
    with SavedTensorMeter(exclude=list(conv.parameters())) as meter, torch.autocast("cpu", torch.bfloat16):
        y = conv(x)
        (y * y).sum()
    # Under bf16 autocast: the input's and the weight's bf16 casts, and the bf16 output.
    assert meter.bytes == 1 * 2 * 5 * 5 * 2 + 3 * 2 * 3 * 3 * 2 + 1 * 3 * 5 * 5 * 2 == 358
    with SavedTensorMeter(include=[x]) as meter:
        (x.requires_grad_() * 2).sum()  # saves nothing: only the batch counts
    assert meter.bytes == x.nbytes


def test_extrapolation_is_exact_on_a_quadratic_series():
    def series(r):
        return 3.0 * r * r + 5000.0 * r + 7e6

    value, how = extrapolate({r: series(r) for r in (64, 128, 256)}, 1024)
    assert value == pytest.approx(series(1024), rel=1e-12) and how == "quadratic through 64, 128, 256 px"
    assert extrapolate({r: series(r) for r in (32, 64, 128, 256)}, 512)[0] == pytest.approx(series(512), rel=1e-12)
    # Two stages: the growth ratio kept (exact on a pure power law: r^2 here).
    assert extrapolate({128: 2.0 * 128**2, 256: 2.0 * 256**2}, 1024)[0] == pytest.approx(2.0 * 1024**2)
    assert extrapolate({256: 5.0}, 256) == (5.0, "measured")


def test_bench_runs_on_the_tiny_curriculum_and_prints_every_phase(capsys, tmp_path):
    out, table = tmp_path / "memory.json", tmp_path / "table.json"
    status = bench_main(["memory", "curriculum=tiny", "model.net.width_multiplier=0.03125", "--precisions", "fp32",
                         "--gpus", "2", "--quiet", "--out", str(out), "--table", str(table)])
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == result
    assert [row["label"] for row in result["phases"]] == ["stage0-B", "stage1-A", "stage1-B", "stage2-finetune"]
    for row in result["phases"]:
        assert row["batch_per_gpu"] == 2 and row["activations"]["fp32"]["source"] == "measured"
        assert row["activations"]["fp32"]["per_sample_gib"] > 0
        assert row["peak_gib"]["fp32"] >= CUDA_ALLOWANCE / GIB
        assert set(row["max_batch_per_gpu"]["fp32"]) == {"24GiB", "48GiB", "80GiB"}
    assert {(m["label"], m["batch"]) for m in result["measured"]} == {
        (label, batch) for label in ("stage0-B", "stage1-A", "stage1-B") for batch in (2, 4)}
    # The table it writes is what training's prediction reads.
    with initialize_config_dir(str(CONF), version_base="1.3"):
        register_configs()
        cfg = compose("train", overrides=["curriculum=tiny", "model.net.width_multiplier=0.03125"])
    rows = predict_peak_memory(cfg, 2, precision="32-true", table=json.loads(table.read_text()))
    assert [round(r["peak_bytes"] / GIB, 2) for r in rows] == [r["peak_gib"]["fp32"] for r in result["phases"]]


@pytest.fixture(scope="module")
def paper():
    register_configs()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("train", overrides=["experiment=paper"])


def fake_gpu(monkeypatch, gib: float) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda device: SimpleNamespace(total_memory=int(gib * GIB)))


def test_memory_check_warns_of_a_gpu_too_small_for_the_paper_preset(paper, monkeypatch, caplog):
    assert memory_plan.load_table() is not None, "fusion/training/memory_table.json: run the memory bench with --table"
    fake_gpu(monkeypatch, 1)
    with caplog.at_level(logging.WARNING, logger="fusion.training.memory_plan"):
        warnings = warn_if_out_of_memory(paper, 8, "bf16-mixed")
    labels = [w.split()[0] for w in warnings]
    assert labels[0] == "stage0-B" and "stage6-B" in labels and "stage7-finetune" in labels
    assert "predicted to run out of GPU memory" in caplog.text and "stage6-B (1024 px" in caplog.text


def test_memory_check_is_silent_where_the_prediction_fits(paper, monkeypatch, caplog):
    rows = predict_peak_memory(paper, 8, precision="bf16-mixed")
    assert len(rows) == 14 and max(r["peak_bytes"] for r in rows) < 80 * GIB
    fake_gpu(monkeypatch, 80)
    with caplog.at_level(logging.WARNING, logger="fusion.training.memory_plan"):
        assert warn_if_out_of_memory(paper, 8, "bf16-mixed") == []
    assert caplog.text == ""


def test_memory_check_skips_a_cpu_run_and_a_model_the_table_does_not_cover(paper, monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert warn_if_out_of_memory(paper, 8, "bf16-mixed") == []
    fake_gpu(monkeypatch, 1)
    narrow = copy.deepcopy(paper)
    narrow.model.net.width_multiplier = 0.25
    assert predict_peak_memory(narrow, 8, precision="bf16-mixed") is None
    with caplog.at_level(logging.INFO, logger="fusion.training.memory_plan"):
        assert warn_if_out_of_memory(narrow, 8, "bf16-mixed") == []
    assert "no GPU memory prediction" in caplog.text
    on_cpu = copy.deepcopy(paper)
    on_cpu.trainer.accelerator = "cpu"
    assert warn_if_out_of_memory(on_cpu, 8, "bf16-mixed") == []
    monkeypatch.setattr(rank_zero_only, "rank", 1)  # DDP's other processes: the first one warns
    assert warn_if_out_of_memory(paper, 8, "bf16-mixed") == []
