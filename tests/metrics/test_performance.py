"""fusion.metrics.performance on real faces (dlib's landmarks of the photos that ship with matplotlib and
scikit-image): pose and expression read the same at any scale, and follow a turn of the head."""

import cv2
import numpy as np
import pytest

from fusion.faces.landmarks import jittered_landmarks
from fusion.metrics.performance import follow_scores, measure_performance, pose_error


def landmarks_of(backend, image):
    boxes = backend.detect(image)
    assert boxes, "dlib found no face in a photo it finds a face in"
    return jittered_landmarks(backend, image, boxes[0], 4)  # as evaluate measures a face


@pytest.fixture(scope="module")
def faces(photos, dlib_backend):
    """Each photo's landmarks, and those of the photo rotated 15 degrees, mirrored and shrunk to 60%."""
    found = {}
    for name, image in photos.items():
        h, w = image.shape[:2]
        turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0), (w, h))
        small = cv2.resize(image, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
        found[name] = {kind: landmarks_of(dlib_backend, picture) for kind, picture in
                       (("photo", image), ("turned", turned), ("mirrored", image[:, ::-1].copy()), ("small", small))}
    return found


def test_the_photos_read_as_near_frontal_faces_with_open_eyes_one_mouth_closed_one_smiling(faces):
    seen = {name: measure_performance(views["photo"][None]) for name, views in faces.items()}
    for name, face in seen.items():
        assert abs(face.yaw[0]) < 25 and abs(face.pitch[0]) < 25 and abs(face.roll[0]) < 15, name
        assert 0.2 < face.eyes[0] < 0.45, name
    assert seen["hopper"].mouth[0] < 0.05 < 0.1 < seen["astronaut"].mouth[0]  # her smile parts the lips


def test_rolling_the_image_turns_the_pose_by_as_much_and_leaves_the_expression(faces):
    for name, views in faces.items():
        seen = measure_performance(np.stack([views["photo"], views["turned"]]))
        assert seen.roll[0] - seen.roll[1] == pytest.approx(15, abs=3), name  # image y points down
        assert pose_error(seen.rotation[:1], seen.rotation[1:])[0] == pytest.approx(15, abs=1), name
        assert abs(seen.mouth[0] - seen.mouth[1]) < 0.03 and abs(seen.eyes[0] - seen.eyes[1]) < 0.03, name


def test_a_mirror_flips_the_roll_and_scale_changes_nothing(faces):
    """(dlib's points are not mirror-symmetric: on Grace Hopper's mirror image its yaw moves 6 degrees off the
    mirror of the original's, so yaw is not checked against the mirror. Nor are they quite the same at every
    scale: shrunk to 80, 60 and 40%, the photos' poses move 1 to 5 degrees, as much with the chin and mouth
    corners in the fit as without.)"""
    for name, views in faces.items():
        seen = measure_performance(np.stack([views["photo"], views["mirrored"], views["small"]]))
        assert seen.roll[1] == pytest.approx(-seen.roll[0], abs=1), name
        assert abs(seen.mouth[1] - seen.mouth[0]) < 0.03 and abs(seen.eyes[1] - seen.eyes[0]) < 0.05, name
        assert pose_error(seen.rotation[:1], seen.rotation[2:])[0] < 5, name
        assert abs(seen.mouth[2] - seen.mouth[0]) < 0.03 and abs(seen.eyes[2] - seen.eyes[0]) < 0.03, name


def test_an_open_mouth_is_not_read_as_a_turn_of_the_head(faces):
    """The lower lip, chin and mouth corners of a photo pulled 30% of the mouth's width down and in (an "O"):
    the pose moves under 1 degree. (Fitted to the chin and mouth corners too, it read a turn of the head.)"""
    for name, views in faces.items():
        points = views["photo"].copy()
        width = np.linalg.norm(points[54] - points[48])
        moved = [8, 48, 54, *range(55, 60), *range(64, 68)]
        points[moved, 1] += 0.3 * width
        points[[48, 54], 0] += np.array([0.1, -0.1]) * width
        seen = measure_performance(np.stack([views["photo"], points]))
        assert seen.mouth[1] > seen.mouth[0] + 0.2, name
        assert pose_error(seen.rotation[:1], seen.rotation[1:])[0] < 1, name


def test_a_swap_that_misses_frames_is_scored_on_the_frames_it_has(faces):
    views = faces[next(iter(faces))]
    plate = measure_performance(np.stack([views["photo"], views["turned"], views["photo"]]))
    swap = measure_performance(np.stack([views["photo"], np.full((68, 2), np.nan), views["turned"]]))
    scores = follow_scores(swap, plate)
    assert scores["pose_error"] == pytest.approx(pose_error(plate.rotation[1:2], plate.rotation[:1])[0] / 2)
    assert scores["mouth_correlation"] is None  # the plate's mouth does not move
    assert np.isnan(swap.yaw[1])
