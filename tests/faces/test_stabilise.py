"""Landmark stabilisation on real detections of sequences made from a photo."""

import cv2
import numpy as np
import pytest

from fusion.faces.landmarks import jittered_landmarks
from fusion.faces.stabilise import stabilise, track_segments


def detect_track(backend, frames):
    return np.stack([jittered_landmarks(backend, f, backend.detect(f)[0], 4) for f in frames])


def test_jitter_of_a_still_face_drops_at_least_2x(photos, dlib_backend):
    """A still face under sensor noise, flicker and compression: ideally no motion."""
    rng = np.random.default_rng(1)
    frames = []
    for _ in range(40):
        frame = photos["hopper"].astype(np.float32) * rng.uniform(0.92, 1.08) + rng.normal(0, 6, (512, 512, 3))
        _, jpeg = cv2.imencode(".jpg", np.clip(frame, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 60])
        frames.append(cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
    raw = detect_track(dlib_backend, frames)
    smooth = stabilise(raw)
    jitter = lambda track: np.linalg.norm(np.diff(track, axis=0), axis=2).mean()
    assert jitter(raw) > 0.1  # the detector does jitter on this input
    assert jitter(smooth) * 2 <= jitter(raw), (jitter(raw), jitter(smooth))


def test_smooth_fast_motion_does_not_lag(photos, dlib_backend):
    """Sinusoidal drift of up to 4.7 px/frame: the smoothed track keeps up.

    Truth is the photo's mean landmark layout moved by the applied shifts.
    Lag is the filter's error on that exact motion; on real detections the
    smoothed track must also be closer to the truth than the raw one.
    """
    shifts = 30 * np.sin(2 * np.pi * np.arange(40) / 40)
    motion = np.stack([shifts, shifts / 2], 1)[:, None]
    frames = [cv2.warpAffine(photos["hopper"], np.float32([[1, 0, s], [0, 1, s / 2]]), (512, 512),
                             flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101) for s in shifts]
    raw = detect_track(dlib_backend, frames)
    assert len(track_segments(raw)) == 1
    truth = (raw - motion).mean(0)[None] + motion
    lag = np.linalg.norm(stabilise(truth) - truth, axis=2)
    assert lag.max() < 1.0, lag.max()
    error = lambda track: np.linalg.norm(track - truth, axis=2).mean()
    assert error(stabilise(raw)) < error(raw), (error(stabilise(raw)), error(raw))
    centroid_error = np.linalg.norm(stabilise(raw).mean(1) - truth.mean(1), axis=1)
    assert centroid_error.mean() < 1.0, centroid_error.mean()


def test_cuts_and_gaps_are_not_smoothed_across():
    track = np.zeros((20, 68, 2))
    track[:, :, 0] = np.arange(68)
    track[:, :, 1] = np.arange(68)[::-1]
    track[10:] += 200  # a cut: the face jumps
    track[5] = np.nan  # a frame without a face
    smooth = stabilise(track)
    assert np.isnan(smooth[5]).all()
    np.testing.assert_allclose(smooth[11:], track[11:], atol=1e-3)
    np.testing.assert_allclose(smooth[:5], track[:5], atol=1e-3)


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match="68, 2"):
        stabilise(np.zeros((5, 5, 2)))
