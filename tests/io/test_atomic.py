"""fusion.io.atomic: a staged folder replaces the previous one in one step, beside it, and killed runs' staging goes."""

import socket
import subprocess
import sys

import pytest

from fusion.errors import OutputError
from fusion.io import atomic
from fusion.io.atomic import StagedOutputs


def frames(folder) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


@pytest.fixture
def previous(tmp_path):
    """A previous render of three frames in tmp_path/out."""
    out = tmp_path / "out"
    out.mkdir()
    for i in range(1, 4):
        (out / f"plate.{i:04d}.png").write_text(f"old {i}")
    return out


def stage_two_frames(staged: StagedOutputs, out) -> None:
    for i in range(1, 3):
        staged.path(out / f"plate.{i:04d}.png").write_text(f"new {i}")


def test_a_folder_is_swapped_in_one_step_from_beside_it(previous, monkeypatch):
    """The staging folder lies beside the output; one exchange puts the new frames in place: never a missing
    folder, never a mix, none of the three old frames left."""
    seen = []
    exchange = atomic.exchange

    def spy(first, second):
        before = frames(second)
        done = exchange(first, second)
        seen.append((first, second, before, frames(second), done))
        return done

    monkeypatch.setattr(atomic, "exchange", spy, raising=False)
    with StagedOutputs() as staged:
        staging = staged.folder(previous, (".png",))
        stage_two_frames(staged, previous)
        assert staging.parent == previous.parent and staging.name.startswith(".out.fusion.partial-")
        assert frames(previous) == {f"plate.{i:04d}.png": f"old {i}" for i in range(1, 4)}
    assert frames(previous) == {"plate.0001.png": "new 1", "plate.0002.png": "new 2"}
    assert [(first, second, len(before), len(after), done) for first, second, before, after, done in seen] \
        == [(staging, previous, 3, 2, True)]
    assert [p.name for p in previous.parent.iterdir()] == ["out"]


def test_without_an_exchange_the_old_folder_is_moved_aside_first(previous, monkeypatch):
    monkeypatch.setattr(atomic, "exchange", lambda first, second: False, raising=False)
    with StagedOutputs() as staged:
        staged.folder(previous, (".png",))
        stage_two_frames(staged, previous)
    assert frames(previous) == {"plate.0001.png": "new 1", "plate.0002.png": "new 2"}
    assert [p.name for p in previous.parent.iterdir()] == ["out"]


def test_a_file_put_in_the_folder_during_the_render_refuses_the_commit(previous):
    with pytest.raises(OutputError, match=r"folder .*out holds notes\.txt besides a render's frames \(\.png\); .*"
                                          "move them out or choose another output"):
        with StagedOutputs() as staged:
            staged.folder(previous, (".png",))
            stage_two_frames(staged, previous)
            (previous / "notes.txt").write_text("mine")
    assert frames(previous) == {"notes.txt": "mine", **{f"plate.{i:04d}.png": f"old {i}" for i in range(1, 4)}}
    assert [p.name for p in previous.parent.iterdir()] == ["out"]


def gone_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_killed_runs_staging_is_removed_and_a_live_ones_kept(previous):
    host = socket.gethostname()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            partials = {name: previous.parent / name for name in (
                f".out.fusion.partial-{host}-{gone_pid()}-k3j2h1x9",  # killed: removed
                f".out.fusion.partial-{host}-{live.pid}-a8d7c6b5",  # still rendering: kept
                f".out.fusion.partial-otherhost-{gone_pid()}-q1w2e3r4",  # another machine's pid: kept
                f".other.fusion.partial-{host}-{gone_pid()}-z9y8x7w6")}  # another output's: kept
            for partial in partials.values():
                partial.mkdir()
                (partial / "plate.0001.png").write_text("half")
            with StagedOutputs() as staged:
                staged.folder(previous, (".png",))
                stage_two_frames(staged, previous)
            left = sorted(p.name for p in previous.parent.iterdir())
        finally:
            live.kill()
    assert left == sorted(["out", *list(partials)[1:]])


def test_a_killed_runs_partial_files_go_and_a_live_writers_stay(tmp_path):
    """Two jobs preparing one cache at once: the second one's clean-up leaves the first's file in the making
    (it once removed it, and the first failed with "No such file")."""
    host = atomic._host()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            names = {f".sheet.partial-{host}-{gone_pid()}-k3j2h1x9.png": False,  # killed: removed
                     ".sheet.partialq1w2e3r4.png": False,  # named by an older version: removed
                     f".sheet.partial-{host}-{live.pid}-a8d7c6b5.png": True,  # still writing: kept
                     f".sheet.partial-other-host-{gone_pid()}-z9y8x7w6.png": True,  # another machine's: kept
                     "sheet.png": True}
            for name in names:
                (tmp_path / "a" / name).parent.mkdir(exist_ok=True)
                (tmp_path / "a" / name).write_text("half")
            with atomic.atomic_path(tmp_path / "a" / "done.json") as ours:
                removed = atomic.remove_stale_partials(tmp_path)
                assert ours.is_file()
        finally:
            live.kill()
    assert sorted(p.name for p in removed) == sorted(name for name, kept in names.items() if not kept)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        ["done.json", *(name for name, kept in names.items() if kept)])
