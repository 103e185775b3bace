"""Geotagging detections on the track and merging them into signs."""

from __future__ import annotations

from pathlib import Path

import pytest

from signpipe_gui.backend.pipeline import geotag
from signpipe_gui.backend.pipeline.types import Box, Detection, Frame, TrackPoint

TRACK = [
    TrackPoint(100.0, 52.0, 4.0),
    TrackPoint(101.0, 52.001, 4.002),
    TrackPoint(102.0, 52.002, 4.004),
]


def detection(
    index: int, time: float, box: tuple[int, int, int, int], label: str
) -> Detection:
    frame = Frame(index, Path(f"{index}.jpg"), f"camera/{index}.jpg", time)
    return Detection(frame=frame, box=Box(*box, label, 0.8))


def test_positions_are_interpolated_by_frame_time() -> None:
    detections = [
        detection(0, 100.5, (0, 0, 10, 10), "stop"),
        detection(1, 102.0, (0, 0, 10, 10), "stop"),
    ]

    assert geotag.locate(detections, TRACK) == 2

    assert (detections[0].lat, detections[0].lon) == pytest.approx((52.0005, 4.001))
    assert (detections[1].lat, detections[1].lon) == pytest.approx((52.002, 4.004))


def test_frames_far_outside_the_track_get_no_position() -> None:
    detections = [
        detection(0, 102.5 + geotag.TRACK_MARGIN_S, (0, 0, 10, 10), "stop"),
        detection(1, 99.0, (0, 0, 10, 10), "stop"),  # within the margin: the first fix
    ]

    assert geotag.locate(detections, TRACK) == 1

    assert detections[0].lat is None
    assert (detections[1].lat, detections[1].lon) == (52.0, 4.0)


def test_no_track_places_nothing() -> None:
    detections = [detection(0, 100.0, (0, 0, 10, 10), "stop")]

    assert geotag.locate(detections, []) == 0
    assert detections[0].lat is None


def test_a_sign_seen_growing_in_consecutive_frames_is_one_sign() -> None:
    detections = [
        detection(0, 100.0, (100, 100, 120, 120), "prohibitory"),
        detection(1, 100.5, (104, 98, 128, 122), "prohibitory"),
        detection(2, 101.0, (110, 95, 140, 125), "prohibitory"),
        detection(2, 101.0, (300, 300, 330, 330), "prohibitory"),  # a second sign
    ]
    geotag.locate(detections, TRACK)

    signs = geotag.merge_signs(detections)

    assert [len(s.detections) for s in signs] == [3, 1]
    assert [d.sign_id for d in detections] == [1, 1, 1, 2]
    # The sign's position is where it looked largest: the last frame.
    assert (signs[0].lat, signs[0].lon) == (detections[2].lat, detections[2].lon)


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        (detection(1, 100.5, (100, 100, 120, 120), "danger"), "another class"),
        (detection(1, 104.0, (100, 100, 120, 120), "stop"), "too long after"),
        (detection(1, 100.5, (400, 100, 420, 120), "stop"), "too far away"),
    ],
)
def test_different_signs_stay_apart(second: Detection, reason: str) -> None:
    first = detection(0, 100.0, (100, 100, 120, 120), "stop")

    signs = geotag.merge_signs([first, second])

    assert len(signs) == 2, reason
