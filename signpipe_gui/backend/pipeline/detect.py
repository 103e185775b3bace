"""The detect stage: the detector registry and running a detector over all frames.

A detector is any object with a ``name`` and ``detect(image) -> list[Box]`` taking a
BGR ``uint8`` image. ``builtin`` (colour and shape, no weights) and ``onnx`` (a lab's
own model file) come with signpipe; a package adds more by naming a factory
``factory(settings) -> detector`` in the ``signpipe.detectors`` entry point group.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from importlib.metadata import entry_points
from typing import Protocol

import cv2
import numpy as np

from ..settings import Settings
from .types import Box, Detection, Frame, PipelineCancelled, PipelineError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "signpipe.detectors"


class Detector(Protocol):
    """What the detect stage needs of a detector."""

    name: str

    def detect(self, image: np.ndarray) -> list[Box]:
        """The signs in one BGR image, as boxes in its pixel coordinates."""
        ...


def _builtin(settings: Settings) -> Detector:
    from .colour_shape import ColourShapeDetector

    return ColourShapeDetector()


def _onnx(settings: Settings) -> Detector:
    from .onnx_detector import OnnxDetector

    return OnnxDetector.from_settings(settings)


BUILTIN_DETECTORS: dict[str, Callable[[Settings], Detector]] = {
    "builtin": _builtin,
    "onnx": _onnx,
}


def available_detectors() -> list[str]:
    """Names of the built-in detectors and those registered by entry points."""
    names = set(BUILTIN_DETECTORS)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def load_detector(settings: Settings) -> Detector:
    """The detector that ``settings.detector`` names, ready to use."""
    name = settings.detector or "builtin"
    if name in BUILTIN_DETECTORS:
        return BUILTIN_DETECTORS[name](settings)

    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        raise PipelineError(
            "unknown_detector",
            f"No detector is named {name!r}; available: "
            f"{', '.join(available_detectors())}.",
            detector=name,
        )
    try:
        factory = matches[0].load()
        return factory(settings)
    except PipelineError:
        raise
    except Exception as exc:
        logger.exception("Detector %s failed to load", name)
        raise PipelineError(
            "detector_failed",
            f"The detector {name!r} could not be loaded: {exc}.",
            detector=name,
        ) from exc


def read_frame(frame: Frame) -> np.ndarray | None:
    """The frame's pixels as a BGR image, or None when the file cannot be decoded."""
    if frame.video_frame is None:
        # IMREAD_COLOR also turns 16-bit and RGBA images into 8-bit BGR.
        return cv2.imread(str(frame.path), cv2.IMREAD_COLOR)
    capture = cv2.VideoCapture(str(frame.path))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, frame.video_frame)
        ok, image = capture.read()
        return image if ok else None
    finally:
        capture.release()


def detect_frames(
    frames: list[Frame],
    detector: Detector,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    workers: int | None = None,
) -> tuple[list[Detection], int]:
    """Run the detector over every frame on all cores.

    Returns the detections in frame order and the number of frames that could not
    be read. OpenCV releases the GIL while it works, so threads use every core.
    """
    workers = workers or os.cpu_count() or 1
    # One frame per thread on every core; OpenCV's own threads inside each call would
    # only compete with them. The setting is per process, so it is put back after.
    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        detections, unreadable = _detect_all(
            frames, detector, workers, on_progress, cancel
        )
    finally:
        cv2.setNumThreads(opencv_threads)
    if cancel is not None and cancel.is_set():
        raise PipelineCancelled()
    return detections, unreadable


def _detect_all(
    frames: list[Frame],
    detector: Detector,
    workers: int,
    on_progress: Callable[[int, int], None] | None,
    cancel: threading.Event | None,
) -> tuple[list[Detection], int]:
    results: dict[int, list[Box]] = {}
    unreadable = 0
    done = 0

    def work(frame: Frame, image: np.ndarray | None) -> tuple[Frame, list[Box] | None]:
        if image is None:
            image = read_frame(frame)
        if image is None:
            return frame, None
        return frame, detector.detect(image)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="detect") as pool:
        pending: set[Future[tuple[Frame, list[Box] | None]]] = set()
        for frame, image in _frame_sources(frames):
            if cancel is not None and cancel.is_set():
                break
            pending.add(pool.submit(work, frame, image))
            # Bound the decoded frames held in memory.
            while len(pending) >= workers * 2:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    unreadable += _collect(future, results)
                    done += 1
                    if on_progress:
                        on_progress(done, len(frames))
        for future in pending:
            unreadable += _collect(future, results)
            done += 1
            if on_progress:
                on_progress(done, len(frames))

    by_index = {frame.index: frame for frame in frames}
    detections = [
        Detection(frame=by_index[index], box=box)
        for index in sorted(results)
        for box in results[index]
    ]
    return detections, unreadable


def _collect(
    future: Future[tuple[Frame, list[Box] | None]], results: dict[int, list[Box]]
) -> int:
    frame, boxes = future.result()
    if boxes is None:
        logger.warning("Frame %s cannot be read; skipped", frame.name)
        return 1
    results[frame.index] = boxes
    return 0


def _frame_sources(frames: list[Frame]) -> Iterator[tuple[Frame, np.ndarray | None]]:
    """Each frame with its pixels when they come from a video (decoded in order here),
    or None for an image file (read by the worker thread itself)."""
    capture: cv2.VideoCapture | None = None
    capture_path = None
    position = -1
    try:
        for frame in frames:
            if frame.video_frame is None:
                yield frame, None
                continue
            if frame.path != capture_path:
                if capture is not None:
                    capture.release()
                capture = cv2.VideoCapture(str(frame.path))
                capture_path, position = frame.path, -1
            assert capture is not None
            image = None
            # Grabbing skips frames without decoding them.
            while position < frame.video_frame:
                if not capture.grab():
                    break
                position += 1
            if position == frame.video_frame:
                ok, image = capture.retrieve()
                image = image if ok else None
            yield frame, image
    finally:
        if capture is not None:
            capture.release()
