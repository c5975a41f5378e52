"""Finding and decoding an identity's footage or a plate: videos and image sequences.

Layout: `footage/<identity>/` holds video files and/or image sequences; every
folder of images (the identity folder itself or any subfolder) is one sequence
in natural order (`f2.png` before `f10.png`). A video directly in the footage
folder (`footage/<identity>.mp4`) is an identity of its own, named by its stem. A source is split into frame
ranges so that workers can decode it in parallel. A plate (`source_from_path`) is also a sequence named by
pattern (`plate.####.exr`), optionally cut to a range of frame numbers. Image frames are read through
`fusion.io.plate` (every channel and the header kept), video frames through `fusion.io.video_read` (PyAV, at
the video's bit depth; the clip's rate, timecode and codec in the source's `video`).
"""

import hashlib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import av

from fusion.errors import ConfigError
from fusion.io.digest import files_sha256
from fusion.io.plate import IMAGE_EXTENSIONS, Frame, FramePattern, frame_numbers, frame_range, read_frame
from fusion.io.read_ahead import map_ahead, read_ahead
from fusion.io.video_read import VideoInfo, decode_video, probe_video, video_pixels

T = TypeVar("T")

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv")
#: Source names that are their own key (`source_key`).
_SAFE_NAME = re.compile(r"[a-z0-9_.-]+")


@dataclass(frozen=True)
class Source:
    """One video file or one folder of images, with its frame count.

    `path` is where it is (a sequence named by pattern: its folder); `name` is how reports and the cache
    refer to it; `numbers` are its frames' numbers (none given: their positions from 0); `video` is a video
    file's description (rate, timecode, codec, bit depth).
    """

    identity: str
    path: Path
    name: str
    frames: int
    images: tuple[Path, ...] = ()
    numbers: tuple[int, ...] = ()
    video: VideoInfo | None = None

    @property
    def is_video(self) -> bool:
        """True for a video file, False for an image sequence (which lists its `images`)."""
        return not self.images

    @property
    def key(self) -> str:
        """A file-name-safe id, unique within the identity folder (`source_key` of its name)."""
        return source_key(self.name)

    def number(self, index: int) -> int:
        """The frame number of the frame at `index`: the plate's own (`plate.1001.exr`), else its position."""
        return self.numbers[index] if self.numbers else index

    def content_sha256(self) -> str:
        """The SHA-256 of its frames' files and names (`files_sha256`): which shot this is, wherever it lies."""
        return files_sha256(self.images or (self.path,))


def source_key(name: str) -> str:
    """A file-name-safe id for a source `name`, the same on every run and never shared by two names.

    A name that is already safe (letters, digits, `_.-`, no capitals: a case-insensitive
    filesystem keeps it apart) is its own key, so existing caches resume; any other name gets
    a safe spelling plus `~` and a digest of the exact name, and `~` appears in no safe name.

    >>> source_key("take1.mov"), source_key("take_1")
    ('take1.mov', 'take_1')
    >>> source_key("take 1"), source_key("take é"), source_key("take ü"), source_key("Take1")
    ('take_1~9c19877e', 'take_~9ec626cd', 'take_~ed02fbe3', 'Take1~ff126385')
    """
    if _SAFE_NAME.fullmatch(name) and name not in (".", ".."):
        return name
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip(".") or "sequence"
    return f"{safe}~{hashlib.sha256(name.encode()).hexdigest()[:8]}"


@dataclass
class IdentityFootage:
    """What was found for one identity: usable sources and files it skipped."""

    identity: str
    sources: list[Source] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _loose_videos(root: Path, identity: str | None = None) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                  and (identity is None or p.stem == identity))


def find_identities(root: str | os.PathLike) -> list[str]:
    """Identity names: the footage folder's subfolders and loose videos' stems, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"footage folder {root} does not exist; expected footage/<identity>/<videos or images>")
    folders = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    identities = sorted(folders | {p.stem for p in _loose_videos(root)})
    if not identities:
        raise FileNotFoundError(f"footage folder {root} has no identity subfolders or videos; put each actor's clips in {root}/<identity>/")
    return identities


def scan_identity(root: str | os.PathLike, identity: str) -> IdentityFootage:
    """List an identity's sources; unreadable, empty or unknown files become problems."""
    root = Path(root)
    folder = root / identity
    found = IdentityFootage(identity)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else []
    images_by_folder: dict[Path, list[Path]] = {}
    for path in _loose_videos(root, identity) + files:
        suffix = path.suffix.lower()
        relative = path.relative_to(folder) if path.is_relative_to(folder) else Path(path.name)
        if suffix in VIDEO_EXTENSIONS:
            video = probe_video(path) if path.stat().st_size else None
            if video is None:
                found.problems.append({
                    "file": str(path), "reason": "unreadable_video",
                    "message": f"{path}: no frames could be read (empty, corrupt or an unsupported codec); re-export it as H.264 mp4 or an image sequence",
                })
            else:
                found.sources.append(Source(identity, path, relative.as_posix(), video.frames, video=video))
        elif suffix in IMAGE_EXTENSIONS:
            images_by_folder.setdefault(relative.parent, []).append(path)
        else:
            found.problems.append({
                "file": str(path), "reason": "unknown_extension",
                "message": f"{path}: '{suffix or path.name}' is not footage; supported: {', '.join(VIDEO_EXTENSIONS + IMAGE_EXTENSIONS)}; ignored",
            })
    for relative, images in sorted(images_by_folder.items()):
        images.sort(key=_natural_key)
        found.sources.append(Source(identity, folder / relative, relative.as_posix(), len(images), tuple(images)))
    if not found.sources:
        found.problems.append({
            "file": str(folder), "reason": "empty_identity",
            "message": f"{folder}: no usable footage; add videos ({', '.join(VIDEO_EXTENSIONS)}) or images ({', '.join(IMAGE_EXTENSIONS)})",
        })
    return found


def _sequence(path: Path, name: str, images: list[Path]) -> Source:
    images = tuple(sorted(images, key=_natural_key))
    return Source("", path, name, len(images), images, frame_numbers(images))


def _plate(path: Path) -> Source:
    pattern = FramePattern.parse(path)
    if pattern is not None:
        found = pattern.frames()
        if not found:
            raise FileNotFoundError(f"{path}: no frames named {pattern.name} in {pattern.folder}")
        images = tuple(file for _, file in found)
        return Source("", pattern.folder, pattern.name, len(images), images, tuple(number for number, _ in found))
    if path.is_dir():
        images = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not images:
            raise FileNotFoundError(f"{path} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        return _sequence(path, path.name, images)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return Source("", path, path.name, 1, (path,), frame_numbers((path,)))
    if suffix in VIDEO_EXTENSIONS:
        video = probe_video(path) if path.stat().st_size else None
        if video is None:
            raise FileNotFoundError(f"{path}: no frames could be read (empty, corrupt or an unsupported codec); "
                                    "re-export it as H.264 mp4 or an image sequence")
        return Source("", path, path.name, video.frames, video=video)
    raise ConfigError(f"{path}: '{suffix or path.name}' is not footage; give a video ({', '.join(VIDEO_EXTENSIONS)}), "
                      f"an image, a folder of images ({', '.join(IMAGE_EXTENSIONS)}) or a numbered sequence "
                      "(plate.####.exr)")


def select_frames(source: Source, frames: str | int) -> Source:
    """`source` cut to the frame numbers `frames` names (`1001-1100`, see `frame_range`), their numbers kept;
    ConfigError naming the numbers it has where it has none of them."""
    first, last = frame_range(frames)
    numbers = [source.number(index) for index in range(source.frames)]
    kept = [index for index, number in enumerate(numbers) if first <= number <= last]
    if not kept:
        raise ConfigError(f"frames={frames}: {source.path} has frames {numbers[0]}-{numbers[-1]}; "
                          "choose frames among them")
    images = tuple(source.images[index] for index in kept) if source.images else ()
    return replace(source, frames=len(kept), images=images, numbers=tuple(numbers[index] for index in kept))


def source_from_path(path: str | os.PathLike, frames: str | int | None = None) -> Source:
    """A plate as a Source: a video file, a folder holding one image sequence, a sequence named by pattern
    (`plate.####.exr`, `plate.%04d.exr`) or a single image; with `frames` (`1001-1100`), only those frames."""
    source = _plate(Path(path))
    return source if frames is None else select_frames(source, frames)


def read_frames(source: Source, start: int, stop: int) -> Iterator[tuple[int, Frame | Exception]]:
    """Yield (frame index, Frame) for frames [start, stop) of a source, numbered as the source numbers them.

    A frame that cannot be decoded yields the exception instead, so that one
    bad file in a sequence is reported without losing the others.
    """
    if not source.is_video:
        yield from (_read_image(source, index) for index in range(start, min(stop, source.frames)))
        return
    yield from (_video_frame(source, decoded) for decoded in _decoded(source, start, stop))


def _decoded(source: Source, start: int, stop: int) -> Iterator[tuple[int, int, av.VideoFrame]]:
    """(frame index, frame number, decoded frame) for a video's frames [start, stop)."""
    stop = min(stop, source.frames)
    if start >= stop:  # nothing to read (a cut whose frames were all kept by an earlier pass)
        return
    first = source.number(start)
    for number, frame in decode_video(source.path, source.video, first, first + stop - start):
        yield start + number - first, number, frame


def _video_frame(source: Source, decoded: tuple[int, int, av.VideoFrame]) -> tuple[int, Frame]:
    """(frame index, Frame) of one of a video's decoded frames (`_decoded`), its pixels converted."""
    index, number, frame = decoded
    return index, Frame(number, video_pixels(frame, source.video), source.video.channels)


def _read_image(source: Source, index: int) -> tuple[int, Frame | Exception]:
    """(index, Frame) of an image sequence's frame `index`, or (index, the exception) where it cannot be read."""
    try:
        return index, read_frame(source.images[index], source.number(index))
    except Exception as error:
        return index, error


def read_frames_ahead(source: Source, start: int, stop: int, workers: int = 1,
                      then: Callable[[tuple[int, Frame | Exception]], T] = lambda pair: pair) -> Iterator[T]:
    """`then` of each (index, Frame) of `read_frames`, made ahead of the consumer: an image sequence's files
    read by `workers` threads, each file on its own, and `then` in the same thread (`map_ahead`); a video, which
    decodes frame after frame, by one thread (`read_ahead`), then each frame's conversion to RGB and `then` by
    `workers`. An error in `then` is raised at its frame's place."""
    if not source.is_video:
        return map_ahead(lambda index: then(_read_image(source, index)), range(start, min(stop, source.frames)),
                         workers)
    return map_ahead(lambda decoded: then(_video_frame(source, decoded)), read_ahead(_decoded(source, start, stop)),
                     workers)
