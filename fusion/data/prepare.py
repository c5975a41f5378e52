"""`prepare`: footage folders in, per-identity aligned face caches out.

Two passes over each source, both split into frame chunks run in parallel:
  1. detect: decode, find the face, 68 landmarks (jittered re-detection),
     per-chunk results saved to landmarks/*.json;
  2. crop: stabilise each source's landmark track (needs the whole track, so
     it runs between the passes), align, warp, write crop and record.
Decoding twice costs little next to detection (docs/measurements.md)
and keeps both passes resumable without holding frames in memory. The flow:
docs/design.md (Data flow).
"""

import json
import logging
import multiprocessing
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import torch

from fusion.data.cache import CropSettings, IdentityCache, frame_key
from fusion.data.contact_sheet import write_contact_sheet
from fusion.data.prepare_options import PrepareOptions
from fusion.data.quality import sharpness
from fusion.errors import OutputError
from fusion.faces.align import align_face
from fusion.faces.landmarks import load_backend
from fusion.faces.hull import hull_polygon, inside_fraction
from fusion.faces.stabilise import stabilise
from fusion.faces.tracker import FaceTracker
from fusion.io.atomic import write_json
from fusion.io.colorspace import ColorConversion, color_conversion, note_default_colors
from fusion.io.footage import IdentityFootage, Source, find_identities, read_frames, scan_identity
from fusion.io.image import write_image
from fusion.progress import progress
from fusion.stopwatch import Stopwatch

log = logging.getLogger(__name__)


@dataclass
class IdentityReport:
    """What preparing one identity found: frames read, faces kept, skips and notes by reason, problems
    per file and worker seconds per stage; its part of report.json, so a user sees why faces are missing.
    """

    identity: str
    frames_read: int = 0
    faces_kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    problems: list = field(default_factory=list)
    #: one row per source (video file or image-sequence folder): frames expected, read, kept, skipped by reason
    files: list = field(default_factory=list)
    #: worker seconds per stage (decode, detect, landmarks, warp, write, ...)
    seconds: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        """JSON-ready form for report.json: Counters as plain dicts, seconds rounded."""
        return {**asdict(self), "skipped": dict(self.skipped), "notes": dict(self.notes),
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


@dataclass(frozen=True)
class DetectTask:
    """Pass 1 work unit: frames [start, stop) of a source, results saved to `out`."""

    source: Source
    start: int
    stop: int
    out: Path
    settings: CropSettings
    options: PrepareOptions
    colors: ColorConversion


@dataclass(frozen=True)
class CropTask:
    """Pass 2 work unit: the stabilised landmarks of the frames to crop."""

    source: Source
    cache_root: Path
    settings: CropSettings
    landmarks: dict[int, np.ndarray]
    colors: ColorConversion


_backend = None


def _start_worker(landmarks: str, detect_size: int) -> None:
    global _backend
    cv2.setNumThreads(1)
    options = {"detect_size": detect_size} if landmarks == "dlib" else {}
    _backend = load_backend(landmarks, **options)


def _start_pool_worker(landmarks: str, detect_size: int) -> None:
    """A pool process's start: one torch thread, as the pool is a process a core (more threads spin against
    each other's cores; the crops' sharpness: docs/measurements.md, Data preparation), then the backend."""
    torch.set_num_threads(1)
    _start_worker(landmarks, detect_size)


def _detect_chunk(task: DetectTask) -> tuple[DetectTask, list[dict], Counter]:
    """Pass 1: find the face and its landmarks in every frame; saves and returns the entries."""
    settings, options, watch = task.settings, task.options, Stopwatch()
    tracker = FaceTracker(_backend, settings.jitter, watch)
    entries = []
    for index, frame in watch.iterate(read_frames(task.source, task.start, task.stop), "decode"):
        entry = {"frame": index, "status": "ok"}
        entries.append(entry)
        if isinstance(frame, Exception):
            entry.update(status="unreadable_frame", message=str(frame))
            continue
        image = frame.rgb
        if frame.note:
            entry["note"] = frame.note
        entry["dtype"] = image.dtype.name
        entry["faces"], points = tracker(task.colors.to_display(image))
        if points is None:
            entry["status"] = "no_face"
            continue
        entry["landmarks"] = np.round(points, 3).tolist()
        size = float(np.ptp(points, axis=0).max())
        hull = hull_polygon(points, settings.mask_enlarge)
        if size < options.min_face_size:
            entry.update(status="face_too_small", size=round(size, 1))
        elif inside_fraction(hull, image.shape[1], image.shape[0]) < 1 - options.max_outside:
            entry["status"] = "face_outside_frame"
    with watch("write"):
        write_json(task.out, entries)
    return task, entries, watch.seconds


def _crop_chunk(task: CropTask) -> Counter:
    """Pass 2: align and write the crops of one chunk; returns seconds per stage."""
    source, settings, watch = task.source, task.settings, Stopwatch()
    cache = IdentityCache(task.cache_root, source.identity)
    todo = {f: p for f, p in task.landmarks.items() if not cache.record_path(frame_key(source.key, f)).is_file()}
    if not todo:
        return watch.seconds
    for index, frame in watch.iterate(read_frames(source, min(todo), max(todo) + 1), "decode"):
        if index not in todo or isinstance(frame, Exception):
            continue
        image = frame.rgb
        with watch("warp"):
            face = align_face(image, todo[index], settings.resolution, settings.face_scale, settings.alignment, settings.mask_enlarge)
        with watch("color"):
            crop = task.colors.to_stored(face.image)
        with watch("quality"):
            score = sharpness(crop, face.mask)
        key = frame_key(source.key, index)
        crop_path = cache.crop_path(key, np.issubdtype(crop.dtype, np.floating))
        with watch("write"):
            write_image(crop_path, crop)
            write_json(cache.record_path(key), {
                "key": key,
                "source": source.name,
                "frame": index,
                "crop": crop_path.relative_to(cache.folder).as_posix(),
                "dtype": crop.dtype.name,
                **task.colors.record(),
                "landmarks": np.round(face.landmarks, 2).tolist(),
                "matrix": face.matrix.tolist(),
                "mask_polygon": np.round(face.polygon, 2).tolist(),
                "sharpness": round(score, 2),
                "face_size": round(float(np.ptp(todo[index], axis=0).max()), 1),
            })
    return watch.seconds


def _chunks(source: Source, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size, source.frames)) for start in range(0, source.frames, size)]


def _detect_pass(found: IdentityFootage, cache: IdentityCache, settings: CropSettings, options: PrepareOptions, pool,
                 report: IdentityReport, colors: ColorConversion) -> dict[str, list[dict]]:
    """Pass 1 for one identity: each source's landmark entries (by source key), read back for the chunks a
    previous run saved, detected in `pool` for the others; their worker seconds go into `report`."""
    tasks, entries_by_source = [], {}
    for source in found.sources:
        entries_by_source[source.key] = []
        for start, stop in _chunks(source, options.chunk):
            path = cache.landmarks_path(source.key, start)
            if path.is_file():
                entries_by_source[source.key].extend(json.loads(path.read_text()))
            else:
                tasks.append(DetectTask(source, start, stop, path, settings, options, colors))
    total = sum(s.frames for s in found.sources)
    done = total - sum(t.stop - t.start for t in tasks)
    with progress(total=total, desc=f"{report.identity}: landmarks", unit="frame", initial=done) as bar:
        for task, entries, seconds in pool(_detect_chunk, tasks):
            entries_by_source[task.source.key].extend(entries)
            report.seconds.update(seconds)
            bar.update(len(entries))
    return entries_by_source


def _tally_source(source: Source, entries: list[dict], report: IdentityReport) -> tuple[dict, np.ndarray]:
    """Count one source's landmark `entries` (in frame order) into `report`: frames read, skips, notes and
    problems. Returns the source's row of report.json's files and its (entries, 68, 2) landmark track, NaN
    where no usable face was found."""
    row = {"file": str(source.path), "frames_expected": source.frames, "frames_read": 0, "faces_kept": 0,
           "skipped": Counter()}
    if source.images:
        row["skipped_files"] = {}
    track = np.full((len(entries), 68, 2), np.nan, np.float32)
    for i, entry in enumerate(entries):
        read = entry["status"] != "unreadable_frame"
        report.frames_read += read
        row["frames_read"] += read
        if entry["status"] == "ok":
            track[i] = entry["landmarks"]
        else:
            report.skipped[entry["status"]] += 1
            row["skipped"][entry["status"]] += 1
            if source.images:
                row["skipped_files"].setdefault(entry["status"], []).append(source.images[entry["frame"]].name)
            if entry["status"] == "unreadable_frame":
                report.problems.append({"file": str(source.images[entry["frame"]] if source.images else source.path),
                                        "reason": "unreadable_frame", "message": entry["message"]})
        if entry.get("faces", 0) > 1:
            report.notes["several_faces_kept_one"] += 1
        if "note" in entry:
            report.notes[entry["note"]] += 1
    if source.is_video and len(entries) < source.frames:
        _short_video(source, len(entries), report)
    return row, track


def _short_video(source: Source, decoded: int, report: IdentityReport) -> None:
    """Note in `report` a video that decoded fewer frames than its header promises, and what to do."""
    reason = "video_shorter_than_its_header" if decoded else "no_frames_decoded"
    report.notes[reason] += 1
    report.problems.append({
        "file": str(source.path), "reason": reason, "frames_expected": source.frames, "frames_read": decoded,
        "message": f"{source.path}: its header promises {source.frames} frames but {decoded} decoded "
                   f"({'truncated or damaged' if decoded else 'none usable'}); re-export or re-copy it",
    })


def _crop_tasks(source: Source, entries: list[dict], smooth: np.ndarray, cache_root: Path, settings: CropSettings,
                chunk: int, colors: ColorConversion) -> list[CropTask]:
    """Pass 2's work units for one source: per chunk with a crop left to make, the stabilised landmarks of its
    frames with a face."""
    tasks, cache = [], IdentityCache(cache_root, source.identity)
    frames = np.array([e["frame"] for e in entries], int)
    for start, stop in _chunks(source, chunk):
        rows = np.flatnonzero((frames >= start) & (frames < stop) & ~np.isnan(smooth[:, 0, 0]))
        if len(rows) and not all(cache.record_path(frame_key(source.key, int(frames[r]))).is_file() for r in rows):
            tasks.append(CropTask(source, cache_root, settings,
                                  {int(frames[r]): smooth[r].astype(np.float64) for r in rows}, colors))
    return tasks


def _crop_pass(tasks: list[CropTask], pool, report: IdentityReport) -> None:
    """Pass 2 for one identity: every crop task run in `pool`; their worker seconds go into `report`."""
    with progress(total=sum(len(t.landmarks) for t in tasks), desc=f"{report.identity}: crops", unit="frame") as bar:
        for task, seconds in zip(tasks, pool(_crop_chunk, tasks)):
            report.seconds.update(seconds)
            bar.update(len(task.landmarks))


def _finish(cache: IdentityCache, source_keys: dict[str, str], found: IdentityFootage, per_file: dict[str, dict],
            options: PrepareOptions, report: IdentityReport) -> None:
    """Write the identity's index (and contact sheet); count the faces kept per source into `report`."""
    records = cache.write_index(source_keys)
    report.faces_kept = len(records)
    for record in records:
        if record["source"] in per_file:
            per_file[record["source"]]["faces_kept"] += 1
    report.files = [{**row, "skipped": dict(row["skipped"])} for row in per_file.values()]
    report.files += [{"file": problem["file"], "ignored": problem["reason"]} for problem in found.problems]
    if records and options.contact_sheet:
        write_contact_sheet(cache, records, cache.folder / "contact_sheet.png", options.contact_sheet)


def prepare_identity(footage: Path, cache_root: Path, identity: str, settings: CropSettings,
                     options: PrepareOptions, pool, colors: ColorConversion) -> IdentityReport:
    """Both passes for one identity, its footage's pixels converted by `colors`; returns what happened to every
    frame."""
    report = IdentityReport(identity)
    found = scan_identity(footage, identity)
    report.problems.extend(found.problems)
    cache = IdentityCache(cache_root, identity)
    cache.claim(settings)
    source_keys = {source.name: source.key for source in found.sources}
    cache.check_source_keys(source_keys)
    if colors.colorspace is None:
        for source in found.sources:
            note_default_colors(str(source.path))
    entries_by_source = _detect_pass(found, cache, settings, options, pool, report, colors)
    crop_tasks, per_file = [], {}
    for source in found.sources:
        entries = sorted(entries_by_source[source.key], key=lambda e: e["frame"])
        per_file[source.name], track = _tally_source(source, entries, report)
        smooth = stabilise(track, settings.smooth_window)
        crop_tasks += _crop_tasks(source, entries, smooth, cache_root, settings, options.chunk, colors)
    _crop_pass(crop_tasks, pool, report)
    _finish(cache, source_keys, found, per_file, options, report)
    return report


def check_cache_apart(footage: Path, cache: Path) -> None:
    """The cache may be neither the footage folder nor inside it (crops would be read back as footage), nor hold it."""
    footage, cache = Path(footage).resolve(), Path(cache).resolve()
    if cache == footage or cache.is_relative_to(footage) or footage.is_relative_to(cache):
        raise OutputError(f"cache={cache} and footage={footage} overlap; the cache writes a folder per identity and "
                          "must not mix with the footage: put it elsewhere (e.g. cache=data/cache/<name>)")


class _Workers:
    """Runs prepare's work units, `run(fn, tasks)` -> results in order: in this process for one worker, else in a
    pool of processes started at the first work there is, so a cache already prepared (every training run
    checks its cache) starts none."""

    def __init__(self, workers: int, landmarks: str, detect_size: int):
        self.workers, self.start = workers, (landmarks, detect_size)
        self._pool = None
        self._started = False

    def __call__(self, fn, tasks: list) -> Iterator:
        if not tasks:
            return iter(())
        if self.workers == 1:
            if not self._started:
                _start_worker(*self.start)
                self._started = True
            return map(fn, tasks)
        if self._pool is None:
            self._pool = multiprocessing.get_context("forkserver").Pool(self.workers, _start_pool_worker, self.start)
        return self._pool.imap(fn, tasks)

    def __enter__(self) -> "_Workers":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()


def prepare(footage: str | os.PathLike, cache: str | os.PathLike, settings: CropSettings = CropSettings(),
            options: PrepareOptions = PrepareOptions(), identities: list[str] | None = None) -> dict:
    """Prepare every identity under `footage` into `cache`; returns the report.

    The report (also written to `cache/report.json`) counts frames read, faces
    kept and frames skipped by reason, and lists every file-level problem with
    the file's name and what to do about it.
    """
    footage, cache = Path(footage), Path(cache)
    check_cache_apart(footage, cache)
    colors = color_conversion(options.colorspace, settings.working_space, options.ocio_config)
    identities = identities or find_identities(footage)
    with _Workers(options.workers or os.cpu_count() or 1, settings.landmarks, options.detect_size) as run:
        reports = [prepare_identity(footage, cache, name, settings, options, run, colors) for name in identities]
    result = {
        "footage": str(footage), "cache": str(cache), "settings": asdict(settings),
        "identities": {r.identity: r.as_dict() for r in reports},
        "faces_kept": sum(r.faces_kept for r in reports),
    }
    write_json(cache / "report.json", result)
    return result
