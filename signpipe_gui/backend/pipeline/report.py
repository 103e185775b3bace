"""The report stage: detections.csv, signs.geojson, summary.json and preview images.

Everything is written into a temporary folder beside ``results/`` and then renamed
into place, so a reader sees either the previous run's results or the new ones whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2

from .detect import read_frame
from .types import Detection, Frame, Inventory, Sign

logger = logging.getLogger(__name__)

RESULTS_DIR = "results"
PREVIEW_COUNT = 6
CSV_COLUMNS = [
    "detection_id",
    "frame_index",
    "frame",
    "time_utc",
    "time_s",
    "class",
    "score",
    "x1",
    "y1",
    "x2",
    "y2",
    "lat",
    "lon",
    "sign_id",
]
# BGR colours of the preview boxes, one per class.
CLASS_COLOURS = {
    "stop": (0, 0, 200),
    "prohibitory": (40, 40, 255),
    "danger": (0, 140, 255),
    "mandatory": (255, 120, 0),
    "priority": (0, 220, 255),
    "information": (200, 80, 0),
}


def write_report(
    recording_dir: Path,
    inventory: Inventory,
    detections: list[Detection],
    signs: list[Sign],
    facts: dict[str, Any],
    *,
    on_progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Write the results folder and return the summary (with the files' paths)."""
    remove_leftovers(recording_dir)
    staging = recording_dir / f".{RESULTS_DIR}-{uuid.uuid4().hex[:12]}.tmp"
    staging.mkdir()
    try:
        write_detections_csv(staging / "detections.csv", detections)
        write_signs_geojson(staging / "signs.geojson", signs)
        previews = write_previews(staging / "previews", detections, on_progress)
        summary = build_summary(inventory, detections, signs, facts, previews)
        (staging / "summary.json").write_text(
            json.dumps(summary, indent=2) + "\n", encoding="utf-8"
        )
        replace_results(recording_dir, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def write_detections_csv(path: Path, detections: list[Detection]) -> None:
    """One row per detection, in frame order."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for number, d in enumerate(detections, start=1):
            writer.writerow(
                [
                    number,
                    d.frame.index,
                    d.frame.name,
                    iso_time(d.frame.time),
                    f"{d.frame.time:.3f}",
                    d.box.label,
                    f"{d.box.score:.3f}",
                    d.box.x1,
                    d.box.y1,
                    d.box.x2,
                    d.box.y2,
                    "" if d.lat is None else f"{d.lat:.8f}",
                    "" if d.lon is None else f"{d.lon:.8f}",
                    "" if d.sign_id is None else d.sign_id,
                ]
            )


def write_signs_geojson(path: Path, signs: list[Sign]) -> None:
    """A GeoJSON FeatureCollection with one point per sign (null without a fix)."""
    features = []
    for sign in signs:
        best = sign.best
        geometry = (
            {"type": "Point", "coordinates": [sign.lon, sign.lat]}
            if sign.lat is not None and sign.lon is not None
            else None
        )
        times = [d.frame.time for d in sign.detections]
        features.append(
            {
                "type": "Feature",
                "id": sign.sign_id,
                "geometry": geometry,
                "properties": {
                    "sign_id": sign.sign_id,
                    "class": sign.label,
                    "score": sign.score,
                    "detections": len(sign.detections),
                    "first_seen": iso_time(min(times)),
                    "last_seen": iso_time(max(times)),
                    "best_frame": best.frame.name,
                    "box": [best.box.x1, best.box.y1, best.box.x2, best.box.y2],
                },
            }
        )
    collection = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(collection, indent=1) + "\n", encoding="utf-8")


def write_previews(
    folder: Path,
    detections: list[Detection],
    on_progress: Callable[[float], None] | None = None,
) -> list[str]:
    """Annotated copies of the frames with the most confident detections."""
    by_frame: dict[int, list[Detection]] = {}
    for detection in detections:
        by_frame.setdefault(detection.frame.index, []).append(detection)
    ranked = sorted(
        by_frame.values(),
        key=lambda ds: (-max(d.box.score for d in ds), ds[0].frame.index),
    )[:PREVIEW_COUNT]

    folder.mkdir()
    written = []
    for number, frame_detections in enumerate(ranked, start=1):
        frame = frame_detections[0].frame
        image = read_frame(frame)
        if image is not None:
            name = f"frame_{frame.index:05d}.jpg"
            cv2.imwrite(str(folder / name), annotate(image, frame_detections))
            written.append(f"previews/{name}")
        if on_progress:
            on_progress(number / len(ranked))
    return written


def annotate(image: Any, detections: list[Detection]) -> Any:
    """The image with each detection's box, class and score drawn on it."""
    thickness = max(1, round(image.shape[1] / 640))
    for d in detections:
        colour = CLASS_COLOURS.get(d.box.label, (255, 255, 255))
        cv2.rectangle(
            image, (d.box.x1, d.box.y1), (d.box.x2, d.box.y2), colour, thickness
        )
        label = f"{d.box.label} {d.box.score:.2f}"
        cv2.putText(
            image,
            label,
            (d.box.x1, max(12, d.box.y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thickness,
            colour,
            thickness,
            cv2.LINE_AA,
        )
    return image


def build_summary(
    inventory: Inventory,
    detections: list[Detection],
    signs: list[Sign],
    facts: dict[str, Any],
    previews: list[str],
) -> dict[str, Any]:
    """The counts and facts of one run, as written to summary.json."""
    frames: list[Frame] = inventory.frames
    files = {
        "detections.csv": f"{RESULTS_DIR}/detections.csv",
        "signs.geojson": f"{RESULTS_DIR}/signs.geojson",
        "summary.json": f"{RESULTS_DIR}/summary.json",
    }
    files.update({name: f"{RESULTS_DIR}/{name}" for name in previews})
    return {
        "recording_id": inventory.recording_id,
        "generated_at": iso_time(dt.datetime.now(dt.UTC).timestamp()),
        "frames": len(frames),
        "frames_with_detections": len({d.frame.index for d in detections}),
        "detections": len(detections),
        "signs": len(signs),
        "signs_by_class": dict(sorted(Counter(s.label for s in signs).items())),
        "detections_by_class": dict(
            sorted(Counter(d.box.label for d in detections).items())
        ),
        "geotagged_detections": sum(1 for d in detections if d.lat is not None),
        "geotagged_signs": sum(1 for s in signs if s.lat is not None),
        "track_file": inventory.track_file,
        "track_points": len(inventory.track),
        "first_frame_utc": iso_time(frames[0].time) if frames else None,
        "last_frame_utc": iso_time(frames[-1].time) if frames else None,
        "videos": inventory.videos,
        "notes": inventory.notes,
        **facts,
        "previews": previews,
        "files": files,
    }


def replace_results(recording_dir: Path, staging: Path) -> None:
    """Put the staged folder in place of ``results/``, replacing a previous run's."""
    target = recording_dir / RESULTS_DIR
    old = recording_dir / f".{RESULTS_DIR}-{uuid.uuid4().hex[:12]}.old"
    if target.exists():
        os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def remove_leftovers(recording_dir: Path) -> None:
    """Tidy up after a run that died while writing its results.

    A run that died between its two renames left only the old results aside: they
    are put back. Staging folders are removed.
    """
    target = recording_dir / RESULTS_DIR
    aside = sorted(recording_dir.glob(f".{RESULTS_DIR}-*.old"))
    if aside and not target.exists():
        os.rename(aside.pop(), target)
    for entry in [*aside, *recording_dir.glob(f".{RESULTS_DIR}-*.tmp")]:
        shutil.rmtree(entry, ignore_errors=True)


def iso_time(seconds: float) -> str:
    """A UTC time as ISO 8601 with milliseconds and a Z."""
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
