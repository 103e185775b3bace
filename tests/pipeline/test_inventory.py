"""The inventory stage: frames anywhere under the recording, their times, the track."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from signpipe_gui.backend.pipeline.inventory import take_inventory, time_from_name
from signpipe_gui.backend.pipeline.types import PipelineError
from signpipe_gui.backend.settings import Settings

START = dt.datetime(2018, 8, 2, 16, 14, 48, 299000, tzinfo=dt.UTC).timestamp()


def grey(value: int = 128) -> np.ndarray:
    return np.full((48, 64, 3), value, np.uint8)


def test_frames_without_times_in_their_names_follow_the_frame_rate(
    make_recording: Callable[..., Path],
    pipeline_settings: Settings,
    ublox_csv: Path,
) -> None:
    recording = make_recording(
        {"camera/front/frame10.png": grey(), "camera/front/frame9.jpg": grey()},
        gps=ublox_csv,
        gps_name="gnss/live_gnss_ublox.csv",
    )

    inventory = take_inventory(recording, pipeline_settings)

    assert [f.name for f in inventory.frames] == [
        "camera/front/frame9.jpg",
        "camera/front/frame10.png",
    ]
    rate = pipeline_settings.video_frame_rate
    assert [f.time for f in inventory.frames] == pytest.approx(
        [START, START + 1 / rate]
    )
    assert inventory.start_time == pytest.approx(START)
    assert inventory.track_file == "gnss/live_gnss_ublox.csv"
    assert len(inventory.track) == 579


def test_times_in_file_names_win(
    make_recording: Callable[..., Path], pipeline_settings: Settings
) -> None:
    recording = make_recording(
        {
            "camera/2018_08_02_16_15_00_500.jpg": grey(),
            "camera/1533226490250.jpg": grey(),
        }
    )

    inventory = take_inventory(recording, pipeline_settings)

    assert [f.time for f in inventory.frames] == pytest.approx(
        [1533226490.25, START + 12.201]
    )
    assert [f.index for f in inventory.frames] == [0, 1]
    assert inventory.track == []
    assert inventory.notes == ["No GPS track was found; detections have no position."]


def test_meta_json_gives_start_time_and_frame_rate(
    make_recording: Callable[..., Path], pipeline_settings: Settings
) -> None:
    recording = make_recording({"a.jpg": grey(), "b.jpg": grey()})
    meta = {"start_time": "2020-01-01T00:00:00Z", "fps": 10}
    (recording / "meta.json").write_text(json.dumps(meta), encoding="utf-8")

    inventory = take_inventory(recording, pipeline_settings)

    first = dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp()
    assert [f.time for f in inventory.frames] == pytest.approx([first, first + 0.1])
    assert inventory.meta == meta


def test_unreadable_meta_json_is_ignored(
    make_recording: Callable[..., Path], pipeline_settings: Settings
) -> None:
    recording = make_recording({"a.jpg": grey()})
    (recording / "meta.json").write_text("{not json", encoding="utf-8")

    assert take_inventory(recording, pipeline_settings).meta == {}


def test_video_is_sampled_at_the_configured_rate(
    make_recording: Callable[..., Path], pipeline_settings: Settings
) -> None:
    recording = make_recording({})
    video = recording / "video" / "front.avi"
    video.parent.mkdir()
    writer = cv2.VideoWriter(
        str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48)
    )
    for value in range(30):
        writer.write(grey(value * 8))
    writer.release()

    inventory = take_inventory(recording, pipeline_settings)  # 2 frames a second

    assert [f.video_frame for f in inventory.frames] == [0, 5, 10, 15, 20, 25]
    assert inventory.frames[1].name == "video/front.avi#5"
    assert inventory.frames[1].time == pytest.approx(START + 0.5)
    assert inventory.videos == ["video/front.avi"]


def test_results_and_hidden_folders_are_not_inputs(
    make_recording: Callable[..., Path], pipeline_settings: Settings
) -> None:
    recording = make_recording(
        {
            "camera/a.jpg": grey(),
            "results/previews/frame_00000.jpg": grey(),
            ".results-0123.tmp/x.jpg": grey(),
        }
    )

    inventory = take_inventory(recording, pipeline_settings)

    assert [f.name for f in inventory.frames] == ["camera/a.jpg"]


def test_a_recording_without_frames_is_an_error(
    make_recording: Callable[..., Path], pipeline_settings: Settings, ublox_csv: Path
) -> None:
    recording = make_recording({}, gps=ublox_csv)

    with pytest.raises(PipelineError, match="no camera images") as caught:
        take_inventory(recording, pipeline_settings)
    assert caught.value.code == "no_frames"


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("2024_05_20_23_32_53_415", "2024-05-20T23:32:53.415"),
        ("cam0_20240520T233253.415", "2024-05-20T23:32:53.415"),
        ("frame_1716247973", "2024-05-20T23:32:53"),
        ("frame_1716247973415", "2024-05-20T23:32:53.415"),
        ("frame_000123", None),
        ("2024_13_20_23_32_53_415", None),
    ],
)
def test_time_from_name(stem: str, expected: str | None) -> None:
    seconds = time_from_name(stem)
    if expected is None:
        assert seconds is None
    else:
        assert seconds is not None
        stamp = dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)
        assert stamp.isoformat(timespec="milliseconds").startswith(expected)
