"""The sample recording archive that ``signpipe demo`` writes.

It is built from files in ``resources/demo/``: real street photos (CC0) shown as the
camera frames of a real one-minute drive whose GPS track (MIT, comma.ai) it carries.
Each photo appears twice, half a second apart, the second time slightly closer, so the
pipeline has a sign to follow across consecutive frames.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..resources import resource_path

# (photo, seconds after the recording starts); each photo also gets a closer view.
TIMELINE = (
    ("road460.jpg", 8.0),
    ("road160.jpg", 16.0),
    ("road340.jpg", 24.0),
    ("road201.jpg", 32.0),
    ("road580.jpg", 40.0),
    ("road138.jpg", 48.0),
)
DASHCAM_FRAME = "comma2k19-preview.jpg"
APPROACH_DELAY_S = 0.5
APPROACH_ZOOM = 1.08
NOTICE_FILES = ("NOTICE.md", "LICENSE.comma2k19-MIT.txt")


@dataclass(frozen=True)
class DemoFile:
    """One file of the demo recording: its path in the recording and its bytes."""

    name: str
    data: bytes


def build_demo_archive(output_dir: Path) -> Path:
    """Write ``<recording_id>.zip`` into ``output_dir`` and return its path."""
    source = resource_path("demo")
    start = track_start(source / "gps.csv")
    recording_id = recording_id_for(start)
    files = demo_files(source, start)

    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{recording_id}.zip"
    fd, tmp_name = tempfile.mkstemp(prefix=".demo-", suffix=".zip", dir=output_dir)
    os.close(fd)
    try:
        write_zip(Path(tmp_name), recording_id, files, start)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def demo_files(source: Path, start: dt.datetime) -> list[DemoFile]:
    """Every file of the recording, named as the vehicle logger would name them."""
    files = [
        DemoFile(
            f"camera/{frame_name(start)}",
            (source / "photos" / DASHCAM_FRAME).read_bytes(),
        )
    ]
    for photo, offset in TIMELINE:
        data = (source / "photos" / photo).read_bytes()
        when = start + dt.timedelta(seconds=offset)
        files.append(DemoFile(f"camera/{frame_name(when)}", data))
        later = when + dt.timedelta(seconds=APPROACH_DELAY_S)
        files.append(DemoFile(f"camera/{frame_name(later)}", closer_view(data)))

    files.append(DemoFile("gps.csv", (source / "gps.csv").read_bytes()))
    files.append(DemoFile("meta.json", meta_json(start)))
    for name in NOTICE_FILES:
        files.append(DemoFile(name, (source / name).read_bytes()))
    return sorted(files, key=lambda f: f.name)


def closer_view(jpeg: bytes) -> bytes:
    """The photo enlarged about its centre and cropped back, as if a little closer."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "a demo photo cannot be decoded"
    height, width = image.shape[:2]
    crop_w, crop_h = round(width / APPROACH_ZOOM), round(height / APPROACH_ZOOM)
    x, y = (width - crop_w) // 2, (height - crop_h) // 2
    crop = image[y : y + crop_h, x : x + crop_w]
    closer = cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)
    ok, encoded = cv2.imencode(".jpg", closer, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return encoded.tobytes()


def meta_json(start: dt.datetime) -> bytes:
    """The recording's meta.json."""
    meta = {
        "description": "signpipe demo recording: CC0 street photos as the camera "
        "frames of a real drive's GPS track (see NOTICE.md).",
        "start_time": start.isoformat().replace("+00:00", "Z"),
        "camera": "camera/",
        "gps": "gps.csv",
        "vehicle": "demo",
    }
    return (json.dumps(meta, indent=2) + "\n").encode()


def write_zip(
    path: Path, recording_id: str, files: list[DemoFile], start: dt.datetime
) -> None:
    """A zip with the recording folder at its root and fixed member times."""
    stamp = start.timetuple()[:6]
    with zipfile.ZipFile(path, "w") as archive:
        folders = sorted({f.name.rsplit("/", 1)[0] for f in files if "/" in f.name})
        archive.writestr(zipfile.ZipInfo(f"{recording_id}/", stamp), b"")
        for folder in folders:
            archive.writestr(zipfile.ZipInfo(f"{recording_id}/{folder}/", stamp), b"")
        for demo_file in files:
            info = zipfile.ZipInfo(f"{recording_id}/{demo_file.name}", stamp)
            # JPEG does not shrink further; text does.
            info.compress_type = (
                zipfile.ZIP_STORED
                if demo_file.name.endswith(".jpg")
                else zipfile.ZIP_DEFLATED
            )
            info.external_attr = 0o644 << 16
            archive.writestr(info, demo_file.data)


def track_start(gps_csv: Path) -> dt.datetime:
    """The time of the track's first fix."""
    with gps_csv.open(newline="", encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    return dt.datetime.fromtimestamp(int(first["utc_timestamp_ms"]) / 1000, dt.UTC)


def recording_id_for(start: dt.datetime) -> str:
    """The vehicle logger's folder name for a recording starting at ``start``."""
    return start.strftime("%Y_%m_%d_%H_%M_%S_") + f"{start.microsecond // 1000:03d}"


def frame_name(when: dt.datetime) -> str:
    """A camera frame's file name: its time, like the recording id."""
    return recording_id_for(when) + ".jpg"
