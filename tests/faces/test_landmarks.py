"""The dlib backend on real photos, alignment and masks (no faked landmarks)."""

import cv2
import numpy as np
import pytest

from fusion.faces.align import REFERENCE_POINTS, align_face, canonical_points
from fusion.faces.landmarks import jittered_landmarks


@pytest.mark.parametrize("name", ["hopper", "astronaut"])
def test_dlib_aligns_package_photos(photos, dlib_backend, name):
    image = photos[name]
    boxes = dlib_backend.detect(image)
    assert len(boxes) == 1
    points = jittered_landmarks(dlib_backend, image, boxes[0], 4)
    assert points.shape == (68, 2) and np.isfinite(points).all()
    face = align_face(image, points, 256)
    assert face.image.shape == (256, 256, 3) and face.image.dtype == np.uint8
    error = np.linalg.norm(face.landmarks[list(REFERENCE_POINTS)] - canonical_points(256), axis=1)
    # Eyes and nose are rigid: within 2% of the crop. Mouth corners move with
    # expression (the astronaut smiles broadly): within 4%.
    assert error[:4].max() < 0.02 * 256 and error[4:].max() < 0.04 * 256, error
    mask = face.mask > 127
    ys, xs = np.round(face.landmarks).astype(int).T[::-1]
    assert mask[ys.clip(0, 255), xs.clip(0, 255)].all()  # every landmark inside the mask
    hull_area = mask.mean()
    assert 0.2 < hull_area < 0.6, hull_area  # a face, not the whole crop nor a speck


def test_alignment_is_equivariant_to_frame_motion(photos, dlib_backend):
    """The same face moved in the frame gives the same crop."""
    import cv2

    image = photos["hopper"]
    moved = cv2.warpAffine(image, cv2.getRotationMatrix2D((256, 256), 8, 1.1), (512, 512), flags=cv2.INTER_CUBIC)
    crops = []
    for frame in (image, moved):
        points = jittered_landmarks(dlib_backend, frame, dlib_backend.detect(frame)[0], 4)
        crops.append(align_face(frame, points, 128).image.astype(np.float32))
    centre = (slice(32, 96), slice(32, 96))
    assert np.abs(crops[0][centre] - crops[1][centre]).mean() < 12


def test_unknown_backend_is_rejected():
    from fusion.faces.landmarks import load_backend

    with pytest.raises(ValueError, match="landmarks=mtcnn: choose one of dlib, fan, auto"):
        load_backend("mtcnn")


def test_a_medium_face_in_a_4k_frame_is_found_on_a_shrunk_copy_where_it_is(dlib_backend):
    """The swap bench's 4K close-up at half size in a 4K frame (a face ~600 px across, too small for the 320 px
    copy): found on the next copy, a sixth of the frame's width (no full-size search), its landmarks within 1% of the
    face's size of the full close-up's scaled down."""
    from fusion.bench._plates import close_up
    from fusion.faces.dlib_backend import DlibBackend
    from fusion.faces.eight_bit import eight_bit

    class Recording(DlibBackend):
        """dlib's backend that records the width of every image its detector searches."""

        def __init__(self):
            super().__init__()
            self.widths, detector = [], self._detector
            self._detector = lambda image, upsample: self.widths.append(image.shape[1]) or detector(image, upsample)

    close = eight_bit(close_up(0))
    half = np.full_like(close, 102)
    half[:1080, :1920] = cv2.resize(close, (1920, 1080), interpolation=cv2.INTER_AREA)
    backend = Recording()
    boxes = backend.detect(half)
    assert len(boxes) == 1 and backend.widths == [320, 640], backend.widths
    reference = (jittered_landmarks(dlib_backend, close, dlib_backend.detect(close)[0], 4) + 0.5) / 2 - 0.5
    points = jittered_landmarks(backend, half, boxes[0], 4)
    assert np.linalg.norm(points - reference, axis=1).mean() < 0.01 * np.ptp(reference, 0).max()
    small = Recording()
    small.detect(np.zeros((512, 512, 3), np.uint8))  # no face: the 320 px copy, full size, upsampled, as before
    assert small.widths == [320, 512, 512], small.widths
