"""The built-in detector on real photos, the detector registry and the ONNX adapter."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from signpipe_gui.backend.pipeline import detect
from signpipe_gui.backend.pipeline.colour_shape import ColourShapeDetector
from signpipe_gui.backend.pipeline.onnx_detector import ModelDescription, decode_outputs
from signpipe_gui.backend.pipeline.types import (
    Box,
    Frame,
    PipelineCancelled,
    PipelineError,
)
from signpipe_gui.backend.settings import Settings

# Labelled boxes from the photos' VOC files, with the class they map to.
KNOWN_SIGNS = {
    "road460": Box(99, 125, 170, 200, "prohibitory", 1.0),  # "80" speed limit
    "road201": Box(109, 174, 180, 245, "prohibitory", 1.0),  # "40" speed limit
    "road160": Box(180, 89, 233, 137, "stop", 1.0),
    "road138": Box(170, 68, 227, 125, "information", 1.0),  # pedestrian crossing
}


def read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, path
    return image


def best_match(found: list[Box], truth: Box) -> float:
    return max((b.iou(truth) for b in found if b.label == truth.label), default=0.0)


@pytest.mark.parametrize("stem", sorted(KNOWN_SIGNS))
@pytest.mark.parametrize("light", [0.6, 1.0, 1.4])
def test_known_sign_is_found_in_any_light(
    photos: Path, stem: str, light: float
) -> None:
    image = read(photos / f"{stem}.png")
    image = np.clip(image.astype(np.float32) * light, 0, 255).astype(np.uint8)

    found = ColourShapeDetector().detect(image)

    assert best_match(found, KNOWN_SIGNS[stem]) >= 0.5, found


def test_boxes_are_in_the_pixels_of_a_large_frame(realworld: Path) -> None:
    frame = realworld / "mapillary-tools-sample" / "DSC00001.JPG"
    image = read(frame)  # 3840x2160, a STOP sign on the right

    found = ColourShapeDetector().detect(image)

    assert [b.label for b in found] == ["stop"]
    centre_x, centre_y = found[0].centre
    assert 0.75 < centre_x / 3840 < 0.83
    assert 0.5 < centre_y / 2160 < 0.6


@pytest.mark.parametrize(
    "frame",
    ["mapillary-tools-sample/DSC00497.JPG", "comma2k19-example-segment/preview.png"],
)
def test_frames_without_signs_give_nothing(realworld: Path, frame: str) -> None:
    image = read(realworld / frame)

    assert ColourShapeDetector().detect(image) == []


def test_builtin_is_the_default(pipeline_settings: Settings) -> None:
    assert detect.load_detector(pipeline_settings).name == "builtin"
    assert {"builtin", "onnx"} <= set(detect.available_detectors())


def test_unknown_detector_is_a_clear_error(pipeline_settings: Settings) -> None:
    pipeline_settings.detector = "no-such-detector"

    with pytest.raises(PipelineError, match="No detector is named 'no-such-detector'"):
        detect.load_detector(pipeline_settings)


PLUGIN = """
from signpipe_gui.backend.pipeline.types import Box

class CornerDetector:
    name = "corner"
    def __init__(self, settings):
        self.frame_rate = settings.video_frame_rate
    def detect(self, image):
        return [Box(0, 0, 10, 10, "information", 0.5)]

def broken(settings):
    raise RuntimeError("weights not found")
"""


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed distribution registering two detectors by entry point."""
    site = tmp_path / "site"
    (site / "lab_detectors-1.0.dist-info").mkdir(parents=True)
    (site / "lab_detectors.py").write_text(PLUGIN, encoding="utf-8")
    (site / "lab_detectors-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: lab-detectors\nVersion: 1.0\n", encoding="utf-8"
    )
    (site / "lab_detectors-1.0.dist-info" / "entry_points.txt").write_text(
        "[signpipe.detectors]\ncorner = lab_detectors:CornerDetector\n"
        "broken = lab_detectors:broken\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("lab_detectors", None)


def test_entry_point_detector_is_loaded(
    plugin_dist: Path, pipeline_settings: Settings
) -> None:
    pipeline_settings.detector = "corner"

    detector = detect.load_detector(pipeline_settings)

    assert detector.name == "corner"
    assert detector.detect(np.zeros((20, 20, 3), np.uint8))[0].label == "information"
    assert "corner" in detect.available_detectors()


def test_entry_point_that_fails_is_a_clear_error(
    plugin_dist: Path, pipeline_settings: Settings
) -> None:
    pipeline_settings.detector = "broken"

    with pytest.raises(PipelineError, match="could not be loaded: weights not found"):
        detect.load_detector(pipeline_settings)


def test_onnx_without_a_model_file_is_a_clear_error(
    pipeline_settings: Settings, tmp_path: Path
) -> None:
    pipeline_settings.detector = "onnx"
    pipeline_settings.model_file = str(tmp_path / "missing.onnx")

    with pytest.raises(PipelineError, match=r"missing\.onnx does not exist"):
        detect.load_detector(pipeline_settings)


def test_onnx_outputs_are_decoded_into_image_pixels() -> None:
    description = ModelDescription.from_json(
        {
            "input": {"width": 100, "height": 50},
            "box_format": "cxcywh",
            "classes": ["stop", "danger"],
            "score_threshold": 0.5,
        }
    )
    boxes = np.array([[[50, 25, 20, 10], [10, 10, 4, 4], [10, 10, 4, 4]]], np.float32)
    scores = np.array([[0.9, 0.2, 0.8]], np.float32)
    labels = np.array([[1, 0, 7]])

    found = decode_outputs(boxes, scores, labels, description, 1000, 500)

    assert found == [Box(400, 200, 600, 300, "danger", 0.9)]


def test_detect_frames_uses_every_frame_and_counts_unreadable_ones(
    photos: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    frames = [
        Frame(0, photos / "road460.png", "a.png", 0.0),
        Frame(1, broken, "broken.jpg", 1.0),
        Frame(2, photos / "road160.png", "b.png", 2.0),
    ]
    seen: list[tuple[int, int]] = []

    detections, unreadable = detect.detect_frames(
        frames, ColourShapeDetector(), on_progress=lambda d, t: seen.append((d, t))
    )

    assert unreadable == 1
    assert {d.frame.index for d in detections} == {0, 2}
    assert [d.frame.index for d in detections] == sorted(
        d.frame.index for d in detections
    )
    assert seen[-1] == (3, 3)


def test_detect_frames_honours_cancel(photos: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    frames = [Frame(0, photos / "road460.png", "a.png", 0.0)]

    with pytest.raises(PipelineCancelled):
        detect.detect_frames(frames, ColourShapeDetector(), cancel=cancel)
