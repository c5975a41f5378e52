"""Two jobs building the same pack at once (a sweep over one cache, two runs on one footage): each stages in
a folder of its own, the first to finish puts the pack in place, the other takes it."""

import numpy as np

import fusion.data.pack as packs
from fusion.data.cache import CropSettings
from fusion.data.pack import PackSpec, build_pack
from fusion.data.prepare import prepare
from fusion.data.prepare_options import PrepareOptions
from fusion.demo.footage import make_demo_footage

IDENTITIES = ["astronaut", "hopper"]


def test_a_pack_another_job_finished_meanwhile_is_taken_not_broken(tmp_path, monkeypatch):
    footage = make_demo_footage(tmp_path / "footage", frames=8)
    prepare(footage, tmp_path / "cache", CropSettings(resolution=32, landmarks="dlib", jitter=1),
            PrepareOptions(workers=1, contact_sheet=0))
    spec, real = PackSpec(resolution=16, quantity=4), packs.staging_beside
    stagings = []

    def other_job_finishes_first(final):
        staging = real(final)
        stagings.append(staging)
        if len(stagings) == 1:  # while this job stages, another builds the same pack to the end
            stagings.append(build_pack(tmp_path / "cache", IDENTITIES, spec).folder)
        return staging

    monkeypatch.setattr(packs, "staging_beside", other_job_finishes_first)
    ours = build_pack(tmp_path / "cache", IDENTITIES, spec)
    first_staging, second_staging, finished = stagings
    assert first_staging != second_staging and ours.folder == finished
    assert ours.images.shape == (8, 16, 16, 3) and np.bincount(ours.identity).tolist() == [4, 4]
    assert sorted(p.name for p in (tmp_path / "cache" / "packs").iterdir()) == [finished.name]
