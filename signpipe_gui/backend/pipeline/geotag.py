"""The geotag stage: positions from the GPS track, and one sign per physical sign.

A detection's position is the vehicle's position at its frame's time, interpolated
linearly between the two nearest fixes. Detections of the same class in frames close in
time, whose boxes overlap or lie near each other, are merged into one sign; its
position is the vehicle's position where the sign looked largest (closest), since the
built-in detector knows nothing of the camera's geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .types import Detection, Sign, TrackPoint

# A frame this far outside the track (seconds) still takes the track's end position.
TRACK_MARGIN_S = 2.0


@dataclass(frozen=True)
class MergeRules:
    """When two detections are the same physical sign."""

    max_gap_s: float = 1.5  # time between the two frames
    min_iou: float = 0.2
    max_centre_shift: float = 1.5  # centre distance, in box sizes


def locate(detections: list[Detection], track: list[TrackPoint]) -> int:
    """Set each detection's lat/lon from the track; returns how many got one."""
    if not track:
        return 0
    times = np.array([p.time for p in track])
    lats = np.array([p.lat for p in track])
    lons = np.array([p.lon for p in track])

    located = 0
    for detection in detections:
        when = detection.frame.time
        if when < times[0] - TRACK_MARGIN_S or when > times[-1] + TRACK_MARGIN_S:
            continue
        detection.lat = round(float(np.interp(when, times, lats)), 8)
        detection.lon = round(float(np.interp(when, times, lons)), 8)
        located += 1
    return located


def merge_signs(
    detections: list[Detection], rules: MergeRules | None = None
) -> list[Sign]:
    """Group detections into signs; sets each detection's sign_id."""
    rules = rules or MergeRules()
    signs: list[Sign] = []
    open_signs: list[Sign] = []

    ordered = sorted(detections, key=lambda d: (d.frame.time, d.frame.index))
    for detection in ordered:
        open_signs = [
            s
            for s in open_signs
            if detection.frame.time - s.detections[-1].frame.time <= rules.max_gap_s
        ]
        sign = _best_match(detection, open_signs, rules)
        if sign is None:
            sign = Sign(sign_id=len(signs) + 1, label=detection.box.label)
            signs.append(sign)
            open_signs.append(sign)
        sign.detections.append(detection)
        detection.sign_id = sign.sign_id

    for sign in signs:
        best = sign.best
        sign.lat, sign.lon = best.lat, best.lon
    return signs


def _best_match(
    detection: Detection, candidates: list[Sign], rules: MergeRules
) -> Sign | None:
    best: Sign | None = None
    best_closeness = 0.0
    for sign in candidates:
        last = sign.detections[-1]
        if (
            sign.label != detection.box.label
            or last.frame.index == detection.frame.index
        ):
            continue
        closeness = _closeness(last, detection, rules)
        if closeness > best_closeness:
            best, best_closeness = sign, closeness
    return best


def _closeness(previous: Detection, current: Detection, rules: MergeRules) -> float:
    """How alike two boxes are (0 when they cannot be the same sign)."""
    a, b = previous.box, current.box
    iou = a.iou(b)
    if iou >= rules.min_iou:
        return 1.0 + iou
    size = max(a.width, a.height, b.width, b.height, 1)
    (ax, ay), (bx, by) = a.centre, b.centre
    shift = float(np.hypot(ax - bx, ay - by)) / size
    if shift <= rules.max_centre_shift:
        return 1.0 - shift / (rules.max_centre_shift + 1e-9) + 1e-6
    return 0.0
