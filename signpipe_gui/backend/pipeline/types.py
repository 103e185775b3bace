"""Plain values the pipeline's stages hand to each other: frames, track, detections."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SignClass(enum.StrEnum):
    """The classes the pipeline reports, after the Vienna Convention's sign groups."""

    STOP = "stop"
    PROHIBITORY = "prohibitory"
    DANGER = "danger"
    MANDATORY = "mandatory"
    PRIORITY = "priority"
    INFORMATION = "information"

    def __str__(self) -> str:
        return self.value


class PipelineError(Exception):
    """A reason the pipeline cannot process a recording: one sentence plus a code."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = {"code": code, **details}


class PipelineCancelled(PipelineError):
    """The run was asked to stop."""

    def __init__(self) -> None:
        super().__init__("cancelled", "The pipeline run was cancelled.")


@dataclass(frozen=True)
class Frame:
    """One camera frame: an image file, or one frame of a video file."""

    index: int
    path: Path
    name: str  # relative to the recording, plus "#<frame>" for a video frame
    time: float  # seconds since the epoch (UTC)
    video_frame: int | None = None  # position in the video, None for an image file


@dataclass(frozen=True, order=True)
class TrackPoint:
    """One GPS fix."""

    time: float  # seconds since the epoch (UTC)
    lat: float
    lon: float


@dataclass(frozen=True)
class Box:
    """A detection in one frame: pixel box, class and score (0..1)."""

    x1: int
    y1: int
    x2: int
    y2: int
    label: str
    score: float

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2

    def iou(self, other: Box) -> float:
        """Intersection over union of the two boxes."""
        ix = max(0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0


@dataclass
class Detection:
    """A box found in a frame, with its position once geotagged."""

    frame: Frame
    box: Box
    lat: float | None = None
    lon: float | None = None
    sign_id: int | None = None


@dataclass
class Sign:
    """One physical sign: the detections of it in consecutive frames, merged."""

    sign_id: int
    label: str
    detections: list[Detection] = field(default_factory=list)
    lat: float | None = None
    lon: float | None = None

    @property
    def score(self) -> float:
        return max(d.box.score for d in self.detections)

    @property
    def best(self) -> Detection:
        """The detection where the sign looks largest (the vehicle was closest)."""
        return max(self.detections, key=lambda d: d.box.width * d.box.height)


@dataclass
class Inventory:
    """What the inventory stage found in a recording."""

    recording_id: str
    start_time: float | None
    frames: list[Frame]
    track: list[TrackPoint]
    track_file: str | None
    meta: dict[str, Any]
    videos: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
