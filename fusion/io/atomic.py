"""Atomic file writes: a reader never sees half a file, and a failed write replaces nothing.

Everything goes to a temporary name on the destination's filesystem and is
renamed into place, which POSIX makes atomic. A killed job leaves at worst a
`.*.partial*` file or folder that the next run removes or ignores. Files get
the permissions the umask allows (as `open` would give them), so the next
artist can read a render. A write that runs out of space raises
DiskFullError with the path and the space it needed.
"""

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from fusion.errors import DiskFullError

_FULL = (errno.ENOSPC, errno.EDQUOT)
#: How the C library words ENOSPC, in errors of libraries and of programs (ffmpeg) that pass it on as text.
NO_SPACE = "No space left on device"


def file_mode() -> int:
    """The mode a new file gets under the current umask (0o644 under the usual 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def megabytes(size: float) -> str:
    """A byte count for messages.

    >>> megabytes(3.2e6)
    '3.2 MB'
    """
    return f"{size / 1e6:.1f} MB"


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` (an OSError, or a library's error that wraps one) means the disk is full."""
    return getattr(error, "errno", None) in _FULL or NO_SPACE in str(error)


def free_bytes(path: Path) -> int:
    """Free space on the filesystem that holds `path` (or its nearest existing folder)."""
    path = Path(path).absolute()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def disk_full(path: str | os.PathLike, needed: int | None, at_least: bool = False) -> DiskFullError:
    """The error for a write to `path` that ran out of space; `needed` is the bytes it wanted (or more, `at_least`)."""
    need = f"needs {'more than' if at_least else 'about'} {megabytes(needed)}" if needed else "needs more space"
    return DiskFullError(f"disk full: writing {path} {need}, {megabytes(free_bytes(Path(path).parent))} free there; "
                         "free space on that disk or write somewhere else (nothing was replaced)")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, needed: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` on success.

    The temporary name keeps the suffix so that writers choosing a codec by
    extension (OpenCV, OpenEXR) still do. `needed` (bytes) goes into the
    message if the disk fills up.

    >>> target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text(), oct(target.stat().st_mode & 0o777) == oct(file_mode())
    ('done', True)
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.partial", suffix=path.suffix, dir=path.parent)
    except OSError as error:
        if is_disk_full(error):
            raise disk_full(path, needed) from error
        raise
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except Exception as error:
        if is_disk_full(error):
            raise disk_full(path, needed) from error
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` atomically."""
    with atomic_path(path, len(data)) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write `data` as JSON atomically."""
    write_bytes(path, json.dumps(data, indent=1).encode())


class StagedOutputs:
    """Files written under temporary names and moved into place together, only if every write succeeded.

    A swap writes frames, mattes and a preview; a failure in any of them
    (an encoder error, a full disk, an interrupt) leaves every previous
    output as it was and removes what was staged.

    >>> folder = Path(tempfile.mkdtemp())
    >>> with StagedOutputs() as staged:
    ...     _ = staged.path(folder / "out" / "a.txt").write_text("a")
    ...     (folder / "out" / "a.txt").exists()
    False
    >>> (folder / "out" / "a.txt").read_text()
    'a'
    """

    def __init__(self):
        self._moves: list[tuple[Path, Path]] = []
        self._staging: dict[Path, Path] = {}
        self._created: list[Path] = []

    def _folder_for(self, folder: Path) -> Path:
        if folder not in self._staging:
            missing = [p for p in (folder, *folder.parents) if not p.exists()]
            folder.mkdir(parents=True, exist_ok=True)
            if missing:
                self._created.append(missing[-1])
            self._staging[folder] = Path(tempfile.mkdtemp(prefix=".fusion.partial", dir=folder))
        return self._staging[folder]

    def path(self, final: str | os.PathLike) -> Path:
        """Where to write what will become `final`."""
        final = Path(final)
        staged = self._folder_for(final.parent) / final.name
        self._moves.append((staged, final))
        return staged

    def commit(self) -> None:
        """Move every staged file into place."""
        mode = file_mode()
        for staged, final in self._moves:
            os.chmod(staged, mode)
            os.replace(staged, final)
        self._created.clear()
        self.discard()

    def discard(self) -> None:
        """Remove what was staged, and the folders made for it if they stayed empty."""
        for staging in self._staging.values():
            shutil.rmtree(staging, ignore_errors=True)
        self._staging.clear()
        self._moves.clear()
        for folder in self._created:
            with contextlib.suppress(OSError):
                for empty in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
                    empty.rmdir()
                folder.rmdir()
        self._created.clear()

    def __enter__(self) -> "StagedOutputs":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()
