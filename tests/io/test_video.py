"""fusion.io.video: the writer's guarantees."""

import numpy as np
import pytest

from fusion.io.video import VideoWriter


def test_interrupted_video_leaves_no_file(tmp_path):
    with pytest.raises(KeyboardInterrupt), VideoWriter(tmp_path / "cut.mp4") as video:
        video.write(np.zeros((16, 16, 3), np.uint8))
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
