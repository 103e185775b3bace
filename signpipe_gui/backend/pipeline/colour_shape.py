"""The built-in detector: colour segmentation in HSV, then shape analysis.

It needs no model weights. Sign colours (red, blue, yellow) are segmented with
saturation and brightness floors that follow the frame's own light, each colour blob's
outline is measured (circularity, corners, fill) and the shapes that signs have become
boxes with a class and a score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .types import Box, SignClass

# Frames are analysed at most this wide; boxes are scaled back to the frame.
WORK_WIDTH = 1280

# OpenCV hue runs 0..179. Red wraps around 0.
HUE_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "red": ((0, 10), (155, 179)),
    "blue": ((100, 128),),
    "yellow": ((15, 35),),
}


@dataclass(frozen=True)
class Outline:
    """The measured shape of one colour blob."""

    colour: str
    x: int
    y: int
    w: int
    h: int
    area: float
    circularity: float
    corners: int
    extent: float  # blob area / bounding box area
    fill: float  # share of the blob's outline area that is the colour
    surround: float  # share of a band around the outline that is the colour too
    apex_up: bool


class ColourShapeDetector:
    """Finds red, blue and yellow sign shapes; needs no model."""

    name = "builtin"

    def __init__(self, *, min_size: int = 16, min_score: float = 0.4) -> None:
        self.min_size = min_size
        self.min_score = min_score

    def detect(self, image: np.ndarray) -> list[Box]:
        """Boxes of the signs in a BGR image, in the image's pixel coordinates."""
        scale = min(1.0, WORK_WIDTH / image.shape[1])
        work = image
        if scale < 1.0:
            work = cv2.resize(
                image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA
            )

        boxes: list[Box] = []
        for colour, mask in colour_masks(work).items():
            for outline in outlines(mask, colour, self.min_size):
                box = classify(outline)
                if box is not None and box.score >= self.min_score:
                    boxes.append(box)

        kept = suppress_overlaps(boxes)
        return [_rescale(box, 1.0 / scale) for box in kept]


def colour_masks(image: np.ndarray) -> dict[str, np.ndarray]:
    """One binary mask per sign colour, with floors adapted to the frame's light."""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    hue, sat, val = cv2.split(hsv)

    # A dull, hazy or dark frame has low saturation and brightness everywhere; the
    # floors follow the frame's own distribution so that its signs still stand out.
    sat_75 = _percentile(sat, 75)
    s_floor = int(np.clip(sat_75 * 0.9, 70, 110))
    v_floor = int(np.clip(_percentile(val, 50) * 0.2, 30, 50))
    bright = cv2.bitwise_and(
        cv2.threshold(sat, s_floor, 255, cv2.THRESH_BINARY)[1],
        cv2.threshold(val, v_floor, 255, cv2.THRESH_BINARY)[1],
    )

    # Sky is blue too, but paler than a sign's blue: blue needs more saturation.
    sky_floor = int(np.clip(sat_75 * 1.1, 110, 160))
    deep = cv2.threshold(sat, sky_floor, 255, cv2.THRESH_BINARY)[1]

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    masks: dict[str, np.ndarray] = {}
    for colour, ranges in HUE_RANGES.items():
        in_hue = np.zeros_like(hue)
        for low, high in ranges:
            in_hue = cv2.bitwise_or(in_hue, cv2.inRange(hue, low, high))
        mask = cv2.bitwise_and(in_hue, bright)
        if colour == "blue":
            mask = cv2.bitwise_and(mask, deep)
        masks[colour] = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    return masks


def _percentile(channel: np.ndarray, percent: float) -> float:
    """A percentile of an 8-bit channel from its histogram (numpy's sorts, slowly)."""
    counts = cv2.calcHist([channel], [0], None, [256], [0, 256]).ravel()
    cumulative = np.cumsum(counts)
    return float(np.searchsorted(cumulative, cumulative[-1] * percent / 100))


def outlines(mask: np.ndarray, colour: str, min_size: int) -> list[Outline]:
    """The measured outer outlines of the mask's blobs that could be signs."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w < min_size or h < min_size or not 0.5 <= w / h <= 2.0:
            continue
        hull = cv2.convexHull(contour)
        area = cv2.contourArea(hull)
        perimeter = cv2.arcLength(hull, True)
        if area <= 0 or perimeter <= 0:
            continue
        corners = cv2.approxPolyDP(hull, 0.04 * perimeter, True)
        found.append(
            Outline(
                colour=colour,
                x=x,
                y=y,
                w=w,
                h=h,
                area=area,
                circularity=4 * math.pi * area / perimeter**2,
                corners=len(corners),
                extent=area / (w * h),
                fill=_fill(mask, hull, x, y, w, h, area),
                surround=_surround(mask, x, y, w, h, area, fill_area=area),
                apex_up=_apex_up(corners, y, h),
            )
        )
    return found


def classify(outline: Outline) -> Box | None:
    """The sign class and score an outline's colour and shape suggest, if any."""
    shape, fit = _shape(outline)
    # A sign stands out from what is around it; a patch of a red wall does not.
    if shape is None or outline.fill < 0.15 or outline.surround > 0.3:
        return None
    label = _label(outline, shape)
    if label is None:
        return None

    # A sign is a clean shape of saturated colour; tiny blobs are less certain.
    size = min(1.0, min(outline.w, outline.h) / 40)
    score = 0.6 * fit + 0.25 * size + 0.15 * min(1.0, outline.fill / 0.3)
    return Box(
        outline.x,
        outline.y,
        outline.x + outline.w,
        outline.y + outline.h,
        str(label),
        round(score, 3),
    )


def _shape(outline: Outline) -> tuple[str | None, float]:
    """The outline's shape (circle, triangle, rectangle, diamond) and its fit (0..1)."""
    # Ideal values: a circle has circularity 1.0 and extent pi/4 (0.785), a regular
    # octagon 0.95 and 0.83, a square 0.785 and 1.0, a triangle 0.60 and 0.5, a
    # diamond 0.785 and 0.5.
    circ, extent = outline.circularity, outline.extent
    if 0.4 <= extent <= 0.62:
        if outline.corners == 3 and 0.5 <= circ <= 0.72:
            return "triangle", 1.0 - abs(extent - 0.5) * 3 - abs(circ - 0.6) * 2
        if outline.corners == 4 and 0.7 <= circ <= 0.85:
            return "diamond", 1.0 - abs(extent - 0.5) * 3 - abs(circ - 0.785) * 2
        return None, 0.0
    if circ >= 0.86 and 0.7 <= extent <= 0.88:
        return "circle", 1.0 - abs(circ - 1.0) - abs(extent - 0.8)
    if extent >= 0.86 and outline.corners == 4:
        return "rectangle", 1.0 - abs(extent - 1.0) * 2
    return None, 0.0


def _label(outline: Outline, shape: str) -> SignClass | None:
    colour = outline.colour
    if colour == "red":
        if shape == "triangle":
            return SignClass.DANGER if outline.apex_up else SignClass.PRIORITY
        if shape == "circle":
            # A stop sign is a filled red octagon; a prohibitory sign a red ring.
            # (a red lamp is filled whole, a stop sign has white letters).
            if outline.fill > 0.95:
                return None
            if outline.fill < 0.6:
                return SignClass.PROHIBITORY
            # Only an octagon is a stop sign; a round red blob can be anything.
            return SignClass.STOP if outline.corners >= 6 else None
        return None
    if colour == "blue":
        if shape == "circle":
            return SignClass.MANDATORY
        if shape == "rectangle":
            return SignClass.INFORMATION
        return None
    if shape == "diamond":
        return SignClass.PRIORITY
    if shape == "triangle" and outline.apex_up:
        return SignClass.DANGER
    return None


def _fill(
    mask: np.ndarray, hull: np.ndarray, x: int, y: int, w: int, h: int, area: float
) -> float:
    region = np.zeros((h, w), np.uint8)
    cv2.drawContours(region, [hull - (x, y)], -1, 255, thickness=cv2.FILLED)
    inside = cv2.bitwise_and(mask[y : y + h, x : x + w], region)
    return cv2.countNonZero(inside) / area


def _surround(
    mask: np.ndarray, x: int, y: int, w: int, h: int, area: float, fill_area: float
) -> float:
    pad = max(2, round(0.25 * max(w, h)))
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(mask.shape[1], x + w + pad), min(mask.shape[0], y + h + pad)
    outer = cv2.countNonZero(mask[y0:y1, x0:x1])
    inner = cv2.countNonZero(mask[y : y + h, x : x + w])
    band_area = (x1 - x0) * (y1 - y0) - w * h
    return (outer - inner) / band_area if band_area > 0 else 0.0


def _apex_up(corners: np.ndarray, y: int, h: int) -> bool:
    """True when a triangle has one corner in its top half (a warning triangle)."""
    top = sum(1 for point in corners.reshape(-1, 2) if point[1] < y + h / 2)
    return top == 1


def suppress_overlaps(boxes: list[Box], threshold: float = 0.4) -> list[Box]:
    """Keep the best-scoring box where boxes overlap (non-maximum suppression)."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: b.score, reverse=True):
        if all(box.iou(other) < threshold for other in kept):
            kept.append(box)
    return kept


def _rescale(box: Box, factor: float) -> Box:
    if factor == 1.0:
        return box
    return Box(
        round(box.x1 * factor),
        round(box.y1 * factor),
        round(box.x2 * factor),
        round(box.y2 * factor),
        box.label,
        box.score,
    )
