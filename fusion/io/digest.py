"""SHA-256 digests: which checkpoint an export or a shot tuning was made from, and which shot a tuning
or its work folder belongs to."""

import hashlib
import os
from pathlib import Path
from typing import Iterable


def _update(digest, path: str | os.PathLike) -> None:
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read a megabyte at a time (checkpoints run to gigabytes)."""
    digest = hashlib.sha256()
    _update(digest, path)
    return digest.hexdigest()


def files_sha256(paths: Iterable[str | os.PathLike]) -> str:
    """Hex SHA-256 of files' names and bytes, in the order given: a shot's content (a video, or an image
    sequence, whose frame order and names matter), whatever folder it was delivered to.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.0001.png").write_bytes(b"1"), (folder / "a.0002.png").write_bytes(b"2")
    >>> frames = sorted(folder.iterdir())
    >>> files_sha256(frames) == files_sha256(frames[::-1]), files_sha256(frames) == files_sha256(frames[:1])
    (False, False)
    """
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{Path(path).name}\0{os.path.getsize(path)}\0".encode())
        _update(digest, path)
    return digest.hexdigest()
