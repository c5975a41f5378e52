"""GPU smoke check: the paper preset grown 16 -> 1024 px for a few real steps per phase, then a 4K composite.

``python -m fusion.bench gpu-smoke [--steps 3] [--phases stage0-B stage6-B ...] [--width-multiplier 1]``

What a long GPU run needs to know before it starts: that the paper network
(fusion/conf/model/paper.yaml, full width) grows through every phase of the paper
curriculum (fusion/conf/curriculum/paper.yaml) as the curriculum callback grows
and freezes it (`enter_phase`); that each phase's real training step
(`FusionModule._step`: decode, blends, masked SSIM + L1 loss; then
backward, the module's Adam over the trainable parameters and the weight
average) runs at the phase's batch size and resolution under bf16 autocast
with a finite loss; and what it costs: images/s and peak GPU memory per
phase. Batches are random and the network untrained: this checks that
training runs and what it costs, not what it learns.

Then the grown 1024 px network swaps a face in a 3840x2160 16-bit plate the
way `fusion.swap` does: align (`warp_face`), decode (`SwapModel.decode`,
bf16), composite (`composite_face`, on the CPU, then with its multi-band
blend on the GPU, as a swap there runs it), each timed. The plate holds a demo
photo enlarged 4x (a close-up: the face shrinks into the crop, as 4K faces
do). The face's 68 landmarks ship in gpu_smoke_landmarks.json (found once
with the dlib backend on the photo), so no detector runs on the GPU machine.

Without a CUDA GPU it says so and returns, exit status 0 (CI). The presets
are composed with Hydra where it is installed, else read with PyYAML (a
torch + Lightning install has PyYAML but not Hydra).
"""

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from fusion.config import CONF
from fusion.data.cache import CropSettings
from fusion.demo.footage import demo_photos
from fusion.faces.align import REFERENCE_POINTS, alignment_matrix, canonical_points, transform_points, warp_face
from fusion.faces.hull import hull_polygon
from fusion.io.image import encode
from fusion.model.fusion_net import FusionNet
from fusion.swap.composite import composite_face
from fusion.swap.loader import SwapModel
from fusion.training.callback import enter_phase
from fusion.training.schedule import Curriculum, Phase, Stage, phases

LANDMARKS = Path(__file__).with_name("gpu_smoke_landmarks.json")
PLATE_SIZE = (2160, 3840)
PHOTO_SCALE = 4
IDENTITIES = ["a", "b"]


def load_paper_preset(conf: Path) -> tuple[Curriculum, dict]:
    """The paper curriculum and the paper model's FusionModule arguments, from the `conf` folder."""
    try:
        from hydra import compose, initialize_config_dir
        from omegaconf import OmegaConf

        from fusion.config import register_configs
    except ImportError:
        import yaml

        def read(group: str, name: str = "paper") -> dict:
            cfg = yaml.safe_load((conf / group / f"{name}.yaml").read_text())
            for entry in cfg.pop("defaults", []):  # a nested group's choice, e.g. model's `loss: paper`
                if isinstance(entry, dict):
                    (key, choice), = entry.items()
                    cfg[key] = read(f"{group}/{key}", choice)
            cfg.pop("_target_", None)
            return cfg

        def stage(values: dict) -> Stage:
            return Stage(**{**values, "lr": float(values["lr"])})

        raw = read("curriculum")
        finetune = stage(raw["finetune"]) if raw.get("finetune") else None
        return Curriculum([stage(s) for s in raw["stages"]], finetune), read("model")
    register_configs()
    with initialize_config_dir(str(conf), version_base="1.3"):
        cfg = compose(overrides=["+curriculum=paper", "+model=paper"])
    model = OmegaConf.to_container(cfg.model, resolve=True)
    model.pop("_target_")
    return OmegaConf.to_object(cfg.curriculum), model


def triplet_batch(size: int, resolution: int, device: torch.device, generator: torch.Generator) -> dict:
    """Random source and template crops, an elliptic face mask and alternating identities."""
    def image():
        return torch.rand(size, 3, resolution, resolution, generator=generator, device=device)

    line = torch.linspace(-1, 1, resolution, device=device)
    yy, xx = torch.meshgrid(line, line, indexing="ij")
    mask = ((xx / 0.6) ** 2 + (yy / 0.75) ** 2 < 1).float().expand(size, 1, resolution, resolution)
    return {"source": image(), "template": image(), "mask": mask,
            "identity": torch.arange(size, device=device) % len(IDENTITIES)}


def run_phase(module, phase: Phase, steps: int, device: torch.device) -> dict:
    """Grow and freeze for `phase`, then time `steps` training steps after one warm-up step."""
    enter_phase(module, phase)
    module.to(device, memory_format=torch.channels_last)  # new levels are made on the CPU
    module.on_fit_start()
    optimizer = module.configure_optimizers()
    generator = torch.Generator(device).manual_seed(phase.index)
    batches = [triplet_batch(phase.batch_size, phase.resolution, device, generator) for _ in range(steps + 1)]
    losses = []

    def step(batch: dict) -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", torch.bfloat16):
            loss = module._step(batch)["loss"]
        loss.backward()
        optimizer.step()
        module.on_train_batch_end(None, batch, 0)
        losses.append(loss.detach())

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    step(batches[0])
    torch.cuda.synchronize()
    start = time.perf_counter()
    for batch in batches[1:]:
        step(batch)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {
        "label": phase.label,
        "resolution": phase.resolution,
        "batch_size": phase.batch_size,
        "trainable_parameters": sum(p.numel() for p in module.net.parameters() if p.requires_grad),
        "images_per_s": round(phase.batch_size * steps / seconds, 1),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "loss_finite": bool(torch.stack(losses).isfinite().all()),
    }


def plate_with_face() -> tuple[np.ndarray, np.ndarray]:
    """A 3840x2160 uint16 plate (grey ramp) with the demo photo enlarged `PHOTO_SCALE`x at its centre,
    and the face's (68, 2) landmarks in plate pixels."""
    saved = json.loads(LANDMARKS.read_text())
    photo = demo_photos()[saved["photo"]]
    if list(photo.shape[:2]) != saved["size"]:
        raise ValueError(f"{LANDMARKS.name} is for a {saved['size']} photo, the demo photo is {photo.shape[:2]}")
    height, width = PLATE_SIZE
    ramp = np.linspace(0.1, 0.4, width, dtype=np.float32)[None, :, None]
    plate = np.round(np.broadcast_to(ramp, (height, width, 3)) * 65535).astype(np.uint16)
    large = cv2.resize(photo.astype(np.float32) / 255, None, fx=PHOTO_SCALE, fy=PHOTO_SCALE,
                       interpolation=cv2.INTER_CUBIC)
    x0, y0 = (width - large.shape[1]) // 2, (height - large.shape[0]) // 2
    plate[y0:y0 + large.shape[0], x0:x0 + large.shape[1]] = np.round(np.clip(large, 0, 1) * 65535)
    # OpenCV's pixel-centre convention: x_large = (x + 0.5) * scale - 0.5
    points = (np.array(saved["landmarks"], np.float64) + 0.5) * PHOTO_SCALE - 0.5 + [x0, y0]
    return plate, points.astype(np.float32)


def composite_4k(net: FusionNet, device: torch.device, precision: str = "bf16",
                 identity: int = 1) -> tuple[dict, np.ndarray, np.ndarray]:
    """Swap the plate's face at the network's output resolution on `device`, as `fusion.swap` does.

    Returns the record (times in ms and checks), the plate and the swapped frame.
    """
    resolution = net.output_resolution
    plate, landmarks = plate_with_face()
    crop = CropSettings(resolution=resolution)
    model = SwapModel(net.eval().to(device), IDENTITIES, crop, precision)
    clock = time.perf_counter

    start = clock()
    matrix = alignment_matrix(landmarks, resolution, crop.face_scale, crop.alignment)
    polygon = hull_polygon(landmarks, crop.mask_enlarge)
    crops = torch.from_numpy(encode(warp_face(plate, matrix, resolution))).permute(2, 0, 1)[None]
    warped = clock()
    model.decode(crops, identity)  # warm-up: kernels are chosen and loaded on first use
    decode_start = clock()
    face = model.decode(crops, identity)[0].permute(1, 2, 0).numpy()  # back on the CPU: waits for the device
    decoded = clock()
    frame, matte = composite_face(plate, face, matrix, polygon)
    done = clock()
    composite_face(plate, face, matrix, polygon, device=device)  # warm-up, as for the decode
    device_start = clock()
    on_device, device_matte = composite_face(plate, face, matrix, polygon, device=device)
    device_done = clock()

    keep = matte == 0
    reference = transform_points(landmarks[list(REFERENCE_POINTS)].astype(np.float64), matrix)
    record = {
        "plate": f"{plate.shape[1]}x{plate.shape[0]} {plate.dtype}",
        "resolution": resolution,
        "precision": precision,
        "warp_ms": round((warped - start) * 1000, 1),
        "decode_ms": round((decoded - decode_start) * 1000, 1),
        "composite_ms": round((done - decoded) * 1000, 1),
        "composite_multiband_on_device_ms": round((device_done - device_start) * 1000, 1),
        "composite_on_device_max_levels_off": float(np.abs(on_device.astype(np.float64) - frame).max()),
        "composite_on_device_same_matte": bool(np.array_equal(device_matte, matte)),
        "reference_points_off_canonical_px": round(float(np.abs(reference - canonical_points(resolution)).max()), 1),
        "changed_pixels": int((~keep).sum()),
        "same_shape_and_dtype": frame.shape == plate.shape and frame.dtype == plate.dtype,
        "finite": bool(np.isfinite(face).all() and np.isfinite(frame).all()),
        "outside_matte_unchanged": bool(np.array_equal(frame[keep], plate[keep])),
    }
    return record, plate, frame


def main(argv: list[str]) -> dict:
    """Grow the paper network through every phase with a few timed steps, then composite a 4K plate; return
    the costs (images/s, peak GPU memory), or say it was skipped where torch sees no CUDA GPU.
    """
    parser = argparse.ArgumentParser(prog="python -m fusion.bench gpu-smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per phase (after one warm-up)")
    parser.add_argument("--phases", nargs="+", metavar="LABEL", help="only these phases, e.g. stage0-B stage6-B")
    parser.add_argument("--width-multiplier", type=float, default=1.0, help="1 = the paper's widths")
    parser.add_argument("--conf", type=Path, default=CONF, help="the config folder (fusion's own conf/)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        return {"gpu": None, "skipped": "no CUDA GPU visible to torch; run this on a GPU machine"}
    if not (args.conf / "curriculum" / "paper.yaml").is_file():
        parser.error(f"{args.conf} holds no curriculum/paper.yaml: pass --conf with a folder laid out as fusion/conf/")
    from fusion.training.module import FusionModule  # here: the skipped check needs neither it nor kornia

    curriculum, model = load_paper_preset(args.conf)
    plan = phases(curriculum)
    labels = [phase.label for phase in plan]
    if args.phases and set(args.phases) - set(labels):
        parser.error(f"unknown phases {sorted(set(args.phases) - set(labels))}; the paper curriculum has {labels}")
    net = {**model.pop("net"), "resolution": curriculum.stages[0].resolution, "width_multiplier": args.width_multiplier}
    module = FusionModule(IDENTITIES, net, **model)
    device = torch.device("cuda")
    records = [run_phase(module, phase, args.steps, device) for phase in plan
               if not args.phases or phase.label in args.phases]
    if module.net.depth < len(plan[-1].growth):  # a subset of phases that stops short of 1024 px
        enter_phase(module, plan[-1])
    module.net.zero_grad(set_to_none=True)
    torch.cuda.reset_peak_memory_stats()
    composite = composite_4k(module.inference_net, device)[0]
    composite["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "width_multiplier": args.width_multiplier,
        "steps": args.steps,
        "phases": records,
        "composite": composite,
        "peak_memory_gib": max(r["peak_memory_gib"] for r in [*records, composite]),
    }
