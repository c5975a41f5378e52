"""Shared fixtures: real photos from installed packages, the offline landmark backend, the optional
shared clips (tests needing them skip without), composed Hydra configs, and the models and plates
that several test folders use.

Test modules take everything here as fixtures (`compose`, `fast`, ...), never by importing this file.
"""

import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from fusion.config import CONF

REPO = Path(__file__).resolve().parents[1]


def share_the_cores() -> None:
    """In a parallel run (pytest-xdist, one test file a worker), each worker and the processes its tests
    start take their share of the cores, not all of them each."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        threads = max(1, len(os.sched_getaffinity(0)) // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


share_the_cores()


def pytest_collection_modifyitems(items):
    """Longest first, so that a parallel run (a file a worker, `--no-loadscope-reorder` keeping this order)
    ends with short files filling the gaps: the file on the shared clips (minutes of training), then the
    files holding any slow test, then the rest; the order within each file is kept."""
    rank = {}
    for item in items:
        file = item.nodeid.split("::")[0]
        own = 0 if "shared_clips" in item.fixturenames else 1 if item.get_closest_marker("slow") else 2
        rank[file] = min(rank.get(file, 2), own)
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])


FAST = ("curriculum=tiny", "logger=csv", "model.net.width_multiplier=0.125", "crop.resolution=64",
        "val_every=4", "checkpoint_every=2", "trainer.precision=32-true")
"""Overrides that make `train` a seconds-long run on the demo footage."""


def compose_config(name: str | None, overrides=(), root: Path | None = None):
    """Compose the entry config `name` (train, prepare, swap, evaluate; None: only `+group=option` overrides)
    from fusion's conf/ (`CONF`), as the command would. With `root`, paths.root_dir is `root` and
    paths.run_dir `root/run` (the overrides still win)."""
    from hydra import compose, initialize_config_dir

    from fusion.config import register_configs

    register_configs()
    if root is not None:
        overrides = [f"paths.root_dir={root}", f"paths.run_dir={Path(root) / 'run'}", *overrides]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(name, overrides=list(overrides))


@pytest.fixture(scope="session")
def compose():
    """`compose(name, overrides=(), root=None)`: see compose_config."""
    return compose_config


@pytest.fixture
def fast() -> list[str]:
    """The FAST training overrides, a fresh list per test."""
    return list(FAST)


@pytest.fixture(scope="session")
def fast_overrides() -> tuple[str, ...]:
    """The FAST training overrides, for fixtures wider than one test (`fast` gives a test its own list)."""
    return FAST


@pytest.fixture(scope="session")
def photos():
    from fusion.demo.footage import demo_photos

    return demo_photos()


@pytest.fixture(scope="session")
def dlib_backend():
    from fusion.faces.landmarks import load_backend

    return load_backend("dlib")


@pytest.fixture(scope="session")
def shared_clips() -> Path:
    """The team's talking-head clips: `paths.shared_clips` (fusion/conf/paths/default.yaml) with root_dir the repository."""
    clips = Path(compose_config(None, ["+paths=default", f"paths.root_dir={REPO}"]).paths.shared_clips).resolve()
    if not clips.is_dir():
        pytest.skip(f"{clips} not present: integration tests need the shared talking-head clips")
    return clips


@pytest.fixture(scope="session")
def clips_cache(shared_clips, tmp_path_factory) -> tuple[Path, dict]:
    """(cache, report): the shared clips prepared once for the session at 256 px with dlib, the crops the
    integration test trains on (`crop.resolution=256 crop.landmarks=dlib`); that file also checks the faces
    kept, which do not depend on the crop size."""
    from fusion.data.cache import CropSettings
    from fusion.data.prepare import prepare
    from fusion.data.prepare_options import PrepareOptions

    cache = tmp_path_factory.mktemp("clips") / "cache"
    return cache, prepare(shared_clips, cache, CropSettings(resolution=256, landmarks="dlib"),
                          PrepareOptions(contact_sheet=0))


# Models


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint in train.py's format (same save hook), of an untrained 32 px network."""
    from fusion.data.cache import CropSettings
    from fusion.model.checkpoint import save_untrained

    return save_untrained(tmp_path_factory.mktemp("ckpt") / "last.ckpt", ["astronaut", "hopper"],
                          {"resolution": 32, "width_multiplier": 0.125},
                          asdict(CropSettings(resolution=64, landmarks="dlib")))


@pytest.fixture(scope="session")
def prepared_demo(tmp_path_factory):
    """The demo footage and its 64 px dlib cache, prepared once for the session; tests take `demo_cache`."""
    root = tmp_path_factory.mktemp("prepared_demo")
    from fusion.data.cache import CropSettings, cache_location
    from fusion.data.prepare import prepare
    from fusion.data.prepare_options import PrepareOptions
    from fusion.demo.footage import make_demo_footage

    footage = make_demo_footage(root / "data" / "demo" / "footage")
    settings = CropSettings(resolution=64, landmarks="dlib")
    prepare(footage, cache_location(root / "data" / "cache", settings), settings,
            PrepareOptions(contact_sheet=0))
    return root


@pytest.fixture(scope="module")
def demo_cache(prepared_demo, tmp_path_factory):
    """A root with data/demo/footage and its prepared cache, a module's own copy of `prepared_demo` (the modules
    add packs and runs to it; their files keep their times, so a prepare finds every frame done)."""
    root = tmp_path_factory.mktemp("demo")
    shutil.copytree(prepared_demo / "data", root / "data")
    return root


@pytest.fixture(scope="module")
def trained(demo_cache):
    """(checkpoint folder, metrics) of a FAST training run on demo_cache, its run in demo_cache/run."""
    from fusion.training.run import train

    result = train(compose_config("train", FAST, root=demo_cache))
    return demo_cache / "run" / "checkpoints", result.metrics


# Plates


def write_oiio(path, pixels, pixel_type, channels=("R", "G", "B"), origin=(0, 0), display=None, **attributes):
    """Write `pixels` (H, W, C) to `path` through OpenImageIO as a facility's file would be: its pixel type,
    channel names, data window origin, display window (x, y, width, height) and header attributes."""
    import OpenImageIO as oiio

    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], pixel_type)
    spec.channelnames = channels
    spec.x, spec.y = origin
    if display is not None:
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = display
    for name, value in attributes.items():
        spec.attribute(name, value)
    output = oiio.ImageOutput.create(str(path))
    assert output.open(str(path), spec) and output.write_image(pixels) and output.close(), output.geterror()
    return path


@pytest.fixture(scope="session")
def oiio_file():
    """`write_oiio`, for tests that make plates of their own."""
    return write_oiio


def write_plates(folder: Path, photo: np.ndarray, faces: int, blank: bool) -> Path:
    """plate.0001.png, ...: `photo` shifted 4 px a frame, then (`blank`) a 512 px grey frame with no face."""
    from fusion.io.image import write_image

    for i in range(faces):
        write_image(folder / f"plate.{i + 1:04d}.png", np.roll(photo, 4 * i, axis=1))
    if blank:
        write_image(folder / f"plate.{faces + 1:04d}.png", np.full((512, 512, 3), 90, np.uint8))  # no face
    return folder


@pytest.fixture(scope="module")
def plates(tmp_path_factory, photos):
    """A four-plate shot: three of hopper, then one with no face."""
    return write_plates(tmp_path_factory.mktemp("plates") / "shot", photos["hopper"], faces=3, blank=True)


@pytest.fixture(scope="module")
def two_plates(tmp_path_factory, photos):
    """A two-plate shot of hopper, a face in each (for tests that swap a whole shot several times)."""
    return write_plates(tmp_path_factory.mktemp("plates") / "shot", photos["hopper"], faces=2, blank=False)


# Video


def write_clip(path: Path, frames: list[np.ndarray], encoder: str = "prores_ks", pix_fmt: str = "yuv422p10le",
               options: dict | None = None, rate=None, timecode: str | None = "01:00:00:00") -> Path:
    """A video written with PyAV itself, apart from fusion's writer: RGB frames (uint8, or uint16 for a deeper
    `pix_fmt`) as ProRes 422 HQ 10-bit at 24000/1001 from 01:00:00:00 by default, tagged BT.709."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(encoder, rate=rate or Fraction(24000, 1001),
                                      options={"profile": "3"} if options is None else options)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        stream.codec_context.colorspace, stream.codec_context.color_range = 1, 1
        if timecode:
            stream.metadata["timecode"] = timecode
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24" if rgb.dtype == np.uint8 else "rgb48le")
            frame.colorspace = 1
            frame = frame.reformat(format=pix_fmt, dst_color_range=1)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="session")
def clip():
    """`write_clip`, for tests that make a video with PyAV apart from fusion's writer."""
    return write_clip
