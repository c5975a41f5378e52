"""Atomic file writes: a reader never sees half a file, and a failed write replaces nothing.

Everything goes to a temporary name on the destination's filesystem and is
renamed into place, which POSIX makes atomic. A whole folder (a rendered
sequence) is staged beside the output and swapped with it (`swap_paths`): it
never keeps a longer render's extra frames, and where the system can swap two
names in one step (Linux) it is never missing or a mix of two renders.

A killed job leaves at worst a hidden `.<stem>.partial-<host>-<pid>-*` file,
which the next run removes once that process is gone (`remove_stale_partials`)
or ignores, or a staging folder `.<name>.fusion.partial-<host>-<pid>-*`
beside an output, which the next StagedOutputs writing that output removes once
that process is gone. Files get the permissions the umask allows (as `open`
would give them), so the next artist can read a render. A write that runs out
of space raises DiskFullError with the path and the space it needed.
"""

import contextlib
import ctypes
import errno
import functools
import glob
import json
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from fusion.errors import DiskFullError
from fusion.io.outputs import replaced_files

_FULL = (errno.ENOSPC, errno.EDQUOT)
#: How the C library words ENOSPC, in errors of libraries and of programs (ffmpeg) that pass it on as text.
NO_SPACE = "No space left on device"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets under the current umask (0o644 under the usual 022)."""
    return 0o666 & ~_umask()


def folder_mode() -> int:
    """The mode a new folder gets under the current umask (0o755 under the usual 022)."""
    return 0o777 & ~_umask()


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
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.partial-{_host()}-{os.getpid()}-", suffix=path.suffix,
                                   dir=path.parent)
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


#: renameat2's arguments: the current folder as base, and "swap the two names".
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2
#: What renameat2 says where the kernel or the filesystem cannot exchange.
_NO_EXCHANGE = {errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP}
#: The tail of a staging folder's name after `.<name>.fusion.partial-`: host, pid, mkdtemp's random letters.
_STAGING_TAIL = re.compile(r"(?P<host>.+)-(?P<pid>\d+)-[a-z0-9_]+")


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """The C library's renameat2 (Linux with glibc 2.28 or later), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths' names in one atomic step (Linux `renameat2` with `RENAME_EXCHANGE`).

    False, with nothing changed, where the system or the filesystem cannot.
    """
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def _host() -> str:
    """This machine's name as staging folders spell it (a pid only means something on its own host)."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "host"


def swap_paths(first: Path, second: Path) -> None:
    """Swap two existing paths' names: in one step where `exchange` can, else by renames.

    The fallback moves `second` aside to `.<name>.fusion.previous-*` beside it
    first, so a crash between the renames leaves its content there, not lost.

    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a").write_text("old"), (folder / "b").write_text("new")
    >>> swap_paths(folder / "a", folder / "b")
    >>> (folder / "a").read_text(), (folder / "b").read_text()
    ('new', 'old')
    """
    if exchange(first, second):
        return
    aside = second.with_name(f".{second.name}.fusion.previous-{_host()}-{os.getpid()}-{secrets.token_hex(4)}")
    os.rename(second, aside)
    try:
        os.rename(first, second)
    except BaseException:
        os.rename(aside, second)
        raise
    os.rename(aside, first)


def _alive(pid: int) -> bool:
    """Whether process `pid` runs on this host (where that cannot be told, it is taken to)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_staging(final: Path) -> list[Path]:
    """Remove the staging folders of `final` that killed runs on this host left beside it; return them.

    A staging folder is `.<name>.fusion.partial-<host>-<pid>-*`: one whose
    process still runs, or that another host made (its pid means nothing
    here), is left alone.
    """
    stale = _stale_staging(final)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def _stale_staging(final: Path) -> list[Path]:
    """The staging folders of `final` that killed runs on this host left beside it (module's naming)."""
    prefix = f".{final.name}.fusion.partial-"
    stale = []
    for path in sorted(final.parent.glob(glob.escape(prefix) + "*")):
        tail = _STAGING_TAIL.fullmatch(path.name[len(prefix):])
        if tail and tail["host"] == _host() and not _alive(int(tail["pid"])):
            stale.append(path)
    return stale


#: A partial file's owner in its name, `.<stem>.partial-<host>-<pid>-<mkstemp's 8 letters>[.<suffix>]`.
_PARTIAL_OWNER = re.compile(r"\.partial-(?P<host>.+)-(?P<pid>\d+)-[a-z0-9_]{8}(?:\.[^.]*)?$")


def remove_stale_partials(folder: Path) -> list[Path]:
    """Remove the `atomic_path` files under `folder` that killed runs on this host left; return them.

    A partial whose process still runs (another job writing the same cache),
    or that another host made, is left alone; one named as older versions
    named them (no owner) is taken as stale.
    """
    stale = []
    for path in sorted(Path(folder).rglob(".*.partial*")):
        owner = _PARTIAL_OWNER.search(path.name)
        if path.is_file() and (owner is None or owner["host"] == _host() and not _alive(int(owner["pid"]))):
            path.unlink(missing_ok=True)
            stale.append(path)
    return stale


#: In a folder staged for resuming: which render it holds the frames of (`StagedOutputs.folder`).
RESUME_FILE = ".fusion-resume"


def adopt_stale_staging(final: Path, key: str) -> Path | None:
    """The staging folder of `final` that a killed run on this host left holding the render `key` (its
    finished files; any half-written one, an `atomic_path` partial, removed), renamed as this process's own;
    None if there is none."""
    for path in _stale_staging(final):
        with contextlib.suppress(OSError):
            if (path / RESUME_FILE).read_text() == key:
                for part in path.rglob(".*.partial*"):
                    part.unlink()
                adopted = Path(tempfile.mkdtemp(prefix=f".{final.name}.fusion.partial-{_host()}-{os.getpid()}-",
                                                dir=final.parent))
                os.replace(path, adopted)
                return adopted
    return None


def staging_beside(final: Path) -> Path:
    """A new staging folder beside `final` (whose folder must exist), named after it and this process, once
    the stale ones of killed runs are gone: each writer of `final` stages in a folder of its own."""
    remove_stale_staging(final)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.fusion.partial-{_host()}-{os.getpid()}-", dir=final.parent))


def _place(new: Path, final: Path) -> Callable[[], None]:
    """Put `new` at `final` in one step (a previous `final` moves to `new`'s name); return how to undo it."""
    if os.path.lexists(final):
        swap_paths(new, final)
        return lambda: swap_paths(new, final)
    os.rename(new, final)
    return lambda: os.rename(final, new)


@dataclass
class _Staged:
    """One output in the making: `new` goes to `final`; `staging` is its partial folder beside `final`."""

    final: Path
    new: Path
    staging: Path
    #: for a folder staged whole: the suffixes of the files the folder it replaces may hold
    suffixes: tuple[str, ...] | None = None


class StagedOutputs:
    """Files and folders written under temporary names and moved into place together, only if every write succeeded.

    A swap writes frames, mattes and a preview; a failure in any of them
    (an encoder error, a full disk, an interrupt, even a failed move at the
    end) leaves every previous output as it was and removes what was staged.
    Each output is staged in a folder beside it and put in place in one step:
    a file by a rename, a folder staged whole (`folder`) by swapping it with
    the previous one, which is then removed with the staging.

    >>> folder = Path(tempfile.mkdtemp())
    >>> with StagedOutputs() as staged:
    ...     _ = staged.path(folder / "out" / "a.txt").write_text("a")
    ...     (folder / "out" / "a.txt").exists()
    False
    >>> (folder / "out" / "a.txt").read_text()
    'a'
    """

    def __init__(self):
        self._staged: list[_Staged] = []
        self._folders: dict[Path, _Staged] = {}
        self._files: list[Path] = []
        self._created: list[Path] = []

    def _stage_beside(self, final: Path) -> Path:
        """A new staging folder beside `final`, named after it and this process, once stale ones are gone."""
        missing = [p for p in (final.parent, *final.parent.parents) if not p.exists()]
        final.parent.mkdir(parents=True, exist_ok=True)
        if missing:
            self._created.append(missing[-1])
        return staging_beside(final)

    def folder(self, final: str | os.PathLike, suffixes: tuple[str, ...], resume: str | None = None) -> Path:
        """Stage the folder `final` whole: at the commit it holds exactly what was staged in it.

        The folder it replaces may hold only files ending in `suffixes` (a
        previous render's frames); anything else refuses the commit
        (`replaced_files`). A symlinked folder is replaced where it points.
        With `resume` (a key naming the render), the staging of a killed run
        of the same render is taken over with the files it finished.
        Returns the staging folder; `path` maps files in `final` into it.
        """
        given = Path(os.path.abspath(final))
        if given not in self._folders:
            target = given.resolve() if given.is_symlink() else given
            staging = (resume and adopt_stale_staging(target, resume)) or self._stage_beside(target)
            if resume:
                (staging / RESUME_FILE).write_text(resume)
            self._folders[given] = _Staged(target, staging, staging, tuple(suffixes))
            self._staged.append(self._folders[given])
        return self._folders[given].new

    def path(self, final: str | os.PathLike) -> Path:
        """Where to write what will become `final`."""
        final = Path(os.path.abspath(final))
        staged = self._in_folder(final)
        if staged is not None:
            staged.parent.mkdir(parents=True, exist_ok=True)
        else:
            staging = self._stage_beside(final)
            staged = staging / final.name
            self._staged.append(_Staged(final, staged, staging))
        self._files.append(staged)
        return staged

    def _in_folder(self, final: Path) -> Path | None:
        """Where `final` (absolute) is staged if it lies in a folder staged whole, else None."""
        for folder, entry in self._folders.items():
            if final.is_relative_to(folder) and final != folder:
                return entry.new / final.relative_to(folder)
        return None

    def holds(self, final: str | os.PathLike) -> bool:
        """Whether `final`, in a folder staged whole, is already there: written by this run, or by the killed
        one whose staging it took over (`folder(resume=...)`)."""
        staged = self._in_folder(Path(os.path.abspath(final)))
        return staged is not None and staged.is_file()

    def _prepare(self) -> None:
        """Refuse folders that came to hold other files since the render began; give everything its mode."""
        mode = file_mode()
        for entry in self._staged:
            if entry.suffixes is not None:
                replaced_files(entry.final, entry.suffixes)
                (entry.new / RESUME_FILE).unlink(missing_ok=True)
                os.chmod(entry.new, folder_mode())
        for staged in self._files:
            os.chmod(staged, mode)

    def commit(self) -> None:
        """Put every staged output in place; if any step fails, put back those already done."""
        done: list[Callable[[], None]] = []
        try:
            self._prepare()
            for entry in self._staged:
                done.append(_place(entry.new, entry.final))
        except BaseException:
            for undo in reversed(done):
                undo()
            self.discard()
            raise
        self._created.clear()
        self.discard()

    def discard(self) -> None:
        """Remove the staging folders (after a commit, the replaced outputs) and the folders made for them, if empty."""
        for entry in self._staged:
            shutil.rmtree(entry.staging, ignore_errors=True)
        self._staged.clear()
        self._folders.clear()
        self._files.clear()
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
