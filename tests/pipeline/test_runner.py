"""run_pipeline end to end on recordings built from real photos and a real GPS track."""

from __future__ import annotations

import csv
import json
import math
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from signpipe_gui.backend.pipeline import detect, run_pipeline
from signpipe_gui.backend.pipeline.types import Box
from signpipe_gui.backend.settings import Settings
from signpipe_gui.backend.status_file import write_status

ROAD460_80_SIGN = Box(99, 125, 170, 200, "prohibitory", 1.0)
FRAME_460 = "camera/2018_08_02_16_14_58_299.png"
FRAME_460_AGAIN = "camera/2018_08_02_16_14_58_799.png"


@pytest.fixture
def drive(
    make_recording: Callable[..., Path], photos: Path, realworld: Path, ublox_csv: Path
) -> Path:
    """The comma2k19 drive's GPS track with real photos as its camera frames."""
    return make_recording(
        {
            "camera/2018_08_02_16_14_48_299.png": realworld
            / "comma2k19-example-segment"
            / "preview.png",
            FRAME_460: photos / "road460.png",
            FRAME_460_AGAIN: photos / "road460.png",
            "camera/2018_08_02_16_15_08_299.png": photos / "road160.png",
            "camera/2018_08_02_16_15_18_299.png": photos / "road201.png",
        },
        gps=ublox_csv,
        gps_name="gnss/live_gnss_ublox.csv",
    )


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * 111_320
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


def test_drive_ends_done_with_consistent_results(
    drive: Path, pipeline_settings: Settings, ublox_csv: Path
) -> None:
    status = run_pipeline(drive, pipeline_settings)

    assert status["status"] == "done", status["error_msg"]
    assert status["progress_percent"] == 100.0
    assert [s["status"] for s in status["stages"]] == ["done"] * 4
    results = status["results"]
    assert results["frames"] == 5
    for relpath in results["files"].values():
        assert (drive / relpath).is_file(), relpath

    rows = read_csv_rows(drive / "results" / "detections.csv")
    summary = json.loads((drive / "results" / "summary.json").read_text("utf-8"))
    features = json.loads((drive / "results" / "signs.geojson").read_text("utf-8"))[
        "features"
    ]
    assert len(rows) == summary["detections"] == results["detections"] > 0
    assert len(features) == summary["signs"] == results["signs"]
    per_sign: dict[int, int] = {}
    for row in rows:
        per_sign[int(row["sign_id"])] = per_sign.get(int(row["sign_id"]), 0) + 1
    assert {
        f["properties"]["sign_id"]: f["properties"]["detections"] for f in features
    } == per_sign
    classes = {f["properties"]["class"] for f in features}
    assert summary["signs_by_class"] == {
        c: sum(1 for f in features if f["properties"]["class"] == c) for c in classes
    }


def test_known_sign_is_found_in_its_frame_and_followed(
    drive: Path, pipeline_settings: Settings
) -> None:
    run_pipeline(drive, pipeline_settings)

    rows = read_csv_rows(drive / "results" / "detections.csv")
    in_frame = [
        r for r in rows if r["frame"] == FRAME_460 and r["class"] == "prohibitory"
    ]
    best = max(
        in_frame,
        key=lambda r: Box(
            int(r["x1"]), int(r["y1"]), int(r["x2"]), int(r["y2"]), "", 0
        ).iou(ROAD460_80_SIGN),
    )
    box = Box(int(best["x1"]), int(best["y1"]), int(best["x2"]), int(best["y2"]), "", 0)
    assert box.iou(ROAD460_80_SIGN) >= 0.5
    # Half a second later the same sign is in the same place: one sign, two sightings.
    same_sign = [r for r in rows if r["sign_id"] == best["sign_id"]]
    assert {r["frame"] for r in same_sign} == {FRAME_460, FRAME_460_AGAIN}


def test_geotags_fall_on_the_track(
    drive: Path, pipeline_settings: Settings, ublox_csv: Path
) -> None:
    run_pipeline(drive, pipeline_settings)

    track = [
        (float(r["latitude_deg"]), float(r["longitude_deg"]))
        for r in read_csv_rows(ublox_csv)
    ]
    lats, lons = [p[0] for p in track], [p[1] for p in track]
    rows = read_csv_rows(drive / "results" / "detections.csv")
    features = json.loads((drive / "results" / "signs.geojson").read_text("utf-8"))[
        "features"
    ]
    points = [(float(r["lat"]), float(r["lon"])) for r in rows]
    points += [
        (f["geometry"]["coordinates"][1], f["geometry"]["coordinates"][0])
        for f in features
    ]
    for lat, lon in points:
        assert min(lats) <= lat <= max(lats)
        assert min(lons) <= lon <= max(lons)
        # Fixes are 10 Hz at under 21 m/s: an interpolated point is within 3 m of one.
        assert min(metres(lat, lon, tlat, tlon) for tlat, tlon in track) < 3.0


def test_previews_show_the_most_confident_frames(
    drive: Path, pipeline_settings: Settings
) -> None:
    status = run_pipeline(drive, pipeline_settings)

    previews = [
        v for k, v in status["results"]["files"].items() if k.startswith("previews/")
    ]
    assert previews
    for relpath in previews:
        image = cv2.imread(str(drive / relpath), cv2.IMREAD_COLOR)
        assert image is not None
        assert image.shape[:2] == (400, 300)


def test_a_rerun_replaces_the_results_whole(
    drive: Path, pipeline_settings: Settings
) -> None:
    run_pipeline(drive, pipeline_settings)
    (drive / "results" / "stale.txt").write_text("from an older run", encoding="utf-8")
    (drive / "camera" / "2018_08_02_16_15_18_299.png").unlink()

    status = run_pipeline(drive, pipeline_settings)

    assert status["results"]["frames"] == 4
    assert not (drive / "results" / "stale.txt").exists()
    summary = json.loads((drive / "results" / "summary.json").read_text("utf-8"))
    assert summary["frames"] == 4
    assert [p.name for p in drive.iterdir() if p.name.startswith(".")] == []


def test_updates_are_throttled_and_never_go_back(
    make_recording: Callable[..., Path], photos: Path, pipeline_settings: Settings
) -> None:
    image = cv2.imread(str(photos / "road460.png"), cv2.IMREAD_COLOR)
    assert image is not None
    frames = {f"camera/{n:04d}.jpg": cv2.resize(image, (1280, 720)) for n in range(60)}
    recording = make_recording(frames)
    updates: list[dict[str, Any]] = []

    started = time.monotonic()
    status = run_pipeline(recording, pipeline_settings, on_update=updates.append)
    elapsed = time.monotonic() - started

    assert updates[0]["status"] == "running"
    assert updates[-1] == status
    assert len(updates) <= 2 + elapsed * 4 + 1
    percents = [u["progress_percent"] for u in updates]
    assert percents == sorted(percents)
    assert status["results"]["geotagged_signs"] == 0
    assert (
        "No GPS track"
        in json.loads((recording / "results" / "summary.json").read_text("utf-8"))[
            "notes"
        ][0]
    )


def test_status_json_fields_of_the_caller_are_kept(
    drive: Path, pipeline_settings: Settings
) -> None:
    write_status(
        drive,
        {
            "recording_id": drive.name,
            "task_id": "abc",
            "attempt": 2,
            "source": {"job_id": "j1"},
        },
    )

    status = run_pipeline(drive, pipeline_settings)

    assert (status["task_id"], status["attempt"], status["source"]) == (
        "abc",
        2,
        {"job_id": "j1"},
    )


def test_cancel_ends_cancelled_without_results(
    drive: Path, pipeline_settings: Settings
) -> None:
    cancel = threading.Event()
    cancel.set()

    status = run_pipeline(drive, pipeline_settings, cancel=cancel)

    assert status["status"] == "cancelled"
    assert status["error_details"] == {"code": "cancelled"}
    assert not (drive / "results").exists()


def test_missing_recording_is_an_error_with_a_sentence(
    tmp_path: Path, pipeline_settings: Settings
) -> None:
    status = run_pipeline(tmp_path / "2024_05_20_23_32_53_415", pipeline_settings)

    assert status["status"] == "error"
    assert status["error_msg"] == (
        "The recording folder 2024_05_20_23_32_53_415 does not exist."
    )
    assert status["error_details"]["code"] == "recording_missing"


def test_recording_without_frames_fails_in_inventory(
    make_recording: Callable[..., Path], ublox_csv: Path, pipeline_settings: Settings
) -> None:
    recording = make_recording({}, gps=ublox_csv)

    status = run_pipeline(recording, pipeline_settings)

    assert status["status"] == "error"
    assert status["error_details"]["code"] == "no_frames"
    assert status["stages"][0]["status"] == "error"
    assert not (recording / "results").exists()


class ExplodingDetector:
    name = "exploding"

    def detect(self, image: np.ndarray) -> list[Box]:
        raise RuntimeError("out of cheese")


def test_a_detector_crash_is_an_error_not_an_exception(
    drive: Path, pipeline_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        detect.BUILTIN_DETECTORS, "exploding", lambda s: ExplodingDetector()
    )
    pipeline_settings.detector = "exploding"
    shutil.rmtree(drive / "gnss")

    status = run_pipeline(drive, pipeline_settings)

    assert status["status"] == "error"
    assert status["error_msg"] == "The pipeline failed unexpectedly (RuntimeError)."
    assert status["stages"][1]["status"] == "error"
