"""The inventory stage: a recording's frames, GPS track and metadata, with frame times.

Frames are the image files anywhere under the recording (``camera/`` usually) and
frames of its video files, sampled at ``settings.video_frame_rate``. A frame's time
comes from its file name when every name holds one (a date-time like the recording
id's, or epoch seconds or milliseconds), otherwise from the frame rate, counted from
the recording's start time: ``meta.json``'s ``start_time``, else the time in the
recording id (taken as UTC).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import cv2

from ..recording_id import recording_time
from ..settings import Settings
from . import gps
from .types import Frame, Inventory, PipelineError, TrackPoint

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".hevc", ".h264"}
# Folders of signpipe's own output, never inputs.
SKIPPED_FOLDERS = {"results"}

_DATE_TIME = re.compile(
    r"(?<!\d)(\d{4})[-_]?(\d{2})[-_]?(\d{2})[T_ -]?(\d{2})[-_:]?(\d{2})[-_:]?(\d{2})"
    r"(?:[._,](\d{1,6}))?(?!\d)"
)
_EPOCH = re.compile(r"(?<!\d)(\d{10,19})(?:\.(\d+))?(?!\d)")


def take_inventory(recording_dir: Path, settings: Settings) -> Inventory:
    """Everything the later stages need to know about the recording."""
    recording_id = recording_dir.name
    meta = read_meta(recording_dir)
    start_time = _start_time(recording_id, meta, settings)
    images, videos, track_files = _walk(recording_dir)

    frame_rate = _meta_number(meta, "frame_rate", "fps") or settings.video_frame_rate
    frames = image_frames(recording_dir, images, start_time, frame_rate)
    for video in videos:
        frames.extend(video_frames(recording_dir, video, start_time, settings))
    frames.sort(key=lambda f: (f.time, f.name))
    frames = [
        Frame(i, f.path, f.name, f.time, f.video_frame) for i, f in enumerate(frames)
    ]

    inventory = Inventory(
        recording_id=recording_id,
        start_time=start_time,
        frames=frames,
        track=[],
        track_file=None,
        meta=meta,
        videos=[_relative(recording_dir, v) for v in videos],
    )
    inventory.track, inventory.track_file = find_track(
        recording_dir, track_files, start_time, inventory.notes
    )
    if not frames:
        raise PipelineError(
            "no_frames", "The recording holds no camera images or video to process."
        )
    logger.info(
        "Inventory of %s: frames=%d videos=%d track_points=%d",
        recording_id,
        len(frames),
        len(videos),
        len(inventory.track),
    )
    return inventory


def read_meta(recording_dir: Path) -> dict[str, Any]:
    """``meta.json`` at the recording's top level, or {} when absent or unreadable."""
    path = recording_dir / "meta.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("meta.json of %s is unreadable: %s", recording_dir.name, exc)
        return {}
    return data if isinstance(data, dict) else {}


def image_frames(
    recording_dir: Path, images: list[Path], start_time: float | None, rate: float
) -> list[Frame]:
    """Frames of the image files, timed by their names or else by the frame rate."""
    images = sorted(images, key=lambda p: _natural_key(_relative(recording_dir, p)))
    named = [time_from_name(p.stem) for p in images]
    if images and all(t is not None for t in named):
        times = [float(t) for t in named if t is not None]
    else:
        base = start_time or 0.0
        times = [base + i / rate for i in range(len(images))]
    return [
        Frame(0, path, _relative(recording_dir, path), when)
        for path, when in zip(images, times, strict=True)
    ]


def video_frames(
    recording_dir: Path, video: Path, start_time: float | None, settings: Settings
) -> list[Frame]:
    """Frames of one video, sampled at ``settings.video_frame_rate``."""
    capture = cv2.VideoCapture(str(video))
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        capture.release()
    if fps <= 0 or count <= 0:
        logger.warning("Video %s cannot be read; skipped", video.name)
        return []

    begins = time_from_name(video.stem) or start_time or 0.0
    step = max(1, round(fps / max(settings.video_frame_rate, 1e-3)))
    name = _relative(recording_dir, video)
    return [
        Frame(0, video, f"{name}#{n}", begins + n / fps, video_frame=n)
        for n in range(0, count, step)
    ]


def find_track(
    recording_dir: Path,
    candidates: list[Path],
    start_time: float | None,
    notes: list[str],
) -> tuple[list[TrackPoint], str | None]:
    """The longest readable GPS track among the candidate files."""
    best: tuple[list[TrackPoint], str | None] = ([], None)
    for path in candidates:
        try:
            points = gps.read_track(path, start_time)
        except (gps.TrackError, OSError, UnicodeError) as exc:
            logger.debug("%s is not a GPS track: %s", path.name, exc)
            continue
        if len(points) > len(best[0]):
            best = (points, _relative(recording_dir, path))
    if best[1] is None:
        notes.append("No GPS track was found; detections have no position.")
    return best


def time_from_name(stem: str) -> float | None:
    """Seconds since the epoch written in a file name, if it holds a date-time."""
    match = _DATE_TIME.search(stem)
    if match:
        year, month, day, hour, minute, second, fraction = match.groups()
        try:
            stamp = dt.datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second),
                tzinfo=dt.UTC,
            )
        except ValueError:
            return None
        return stamp.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)
    match = _EPOCH.search(stem)
    if match:
        value = gps.parse_time(match.group(0))
        return value if value >= gps.ABSOLUTE_EPOCH_MIN else None
    return None


def _start_time(
    recording_id: str, meta: dict[str, Any], settings: Settings
) -> float | None:
    declared = meta.get("start_time")
    if isinstance(declared, (int, float, str)) and str(declared).strip():
        try:
            return gps.parse_time(str(declared))
        except ValueError:
            logger.warning("meta.json start_time %r is not a time", declared)
    started = recording_time(recording_id, settings.recording_id_pattern)
    return started.replace(tzinfo=dt.UTC).timestamp() if started else None


def _meta_number(meta: dict[str, Any], *names: str) -> float | None:
    for name in names:
        value = meta.get(name)
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    return None


def _walk(recording_dir: Path) -> tuple[list[Path], list[Path], list[Path]]:
    images: list[Path] = []
    videos: list[Path] = []
    tracks: list[Path] = []
    for folder, subfolders, files in os.walk(recording_dir):
        at_top = Path(folder) == recording_dir
        subfolders[:] = sorted(
            d
            for d in subfolders
            if not d.startswith(".") and not (at_top and d in SKIPPED_FOLDERS)
        )
        for name in sorted(files):
            if name.startswith("."):
                continue
            suffix = Path(name).suffix.lower()
            path = Path(folder) / name
            if suffix in IMAGE_SUFFIXES:
                images.append(path)
            elif suffix in VIDEO_SUFFIXES:
                videos.append(path)
            elif suffix in gps.TRACK_SUFFIXES:
                tracks.append(path)
    return images, videos, tracks


def _relative(recording_dir: Path, path: Path) -> str:
    return path.relative_to(recording_dir).as_posix()


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
