"""Shared fixtures: real photos from installed packages, the offline landmark
backend, and the optional shared clips (tests needing them skip without)."""

from pathlib import Path

import pytest

SHARED_CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"


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
    if not SHARED_CLIPS.is_dir():
        pytest.skip(f"{SHARED_CLIPS} not present: integration tests need the shared talking-head clips")
    return SHARED_CLIPS
