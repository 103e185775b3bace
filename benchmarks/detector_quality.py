"""Precision and recall of the built-in detector on the labelled CC0 road photos.

Run from the repository: ``.venv/bin/python benchmarks/detector_quality.py``.

The photos' boxes have four classes. They are mapped onto the pipeline's classes
(speedlimit -> prohibitory, crosswalk -> information, stop -> stop); traffic lights are
not signs, so their boxes are "don't care": a detection on one is neither right nor
wrong. A detection is right when it overlaps a labelled box of its class with
IoU >= 0.5. The ground truth is incomplete (yield, warning and direction signs are
visible but unlabelled), so precision here is a lower bound.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2

from signpipe_gui.backend.pipeline.colour_shape import ColourShapeDetector
from signpipe_gui.backend.pipeline.types import Box

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "realworld" / "road-sign-detection-cc0"

CLASS_MAP = {"speedlimit": "prohibitory", "crosswalk": "information", "stop": "stop"}
DONT_CARE = {"trafficlight"}
IOU_MIN = 0.5


@dataclass
class Tally:
    """Counts of one class: true positives, detections and labelled boxes."""

    hits: int = 0
    detections: int = 0
    labelled: int = 0


def read_labels(xml_path: Path) -> list[tuple[str, Box]]:
    """The VOC boxes of one photo as (voc class, box)."""
    labels = []
    for obj in ET.parse(xml_path).getroot().iter("object"):
        name = obj.findtext("name", "")
        bnd = obj.find("bndbox")
        assert bnd is not None
        x1, y1, x2, y2 = (
            int(float(bnd.findtext(k, "0"))) for k in ("xmin", "ymin", "xmax", "ymax")
        )
        labels.append((name, Box(x1, y1, x2, y2, CLASS_MAP.get(name, name), 1.0)))
    return labels


def score_photo(
    found: list[Box],
    labels: list[tuple[str, Box]],
    tallies: dict[str, Tally],
    agnostic: Tally,
) -> list[tuple[Box, str]]:
    """Match one photo's detections to its labels; returns each detection's verdict."""
    truth = [box for name, box in labels if name in CLASS_MAP]
    ignore = [box for name, box in labels if name in DONT_CARE]
    for box in truth:
        tallies[box.label].labelled += 1
        agnostic.labelled += 1

    verdicts = []
    used: set[int] = set()
    used_any: set[int] = set()
    for det in sorted(found, key=lambda b: b.score, reverse=True):
        match = _best(det, truth, used, same_class=True)
        any_match = _best(det, truth, used_any, same_class=False)
        if (
            match is None
            and any_match is None
            and any(det.iou(b) >= IOU_MIN for b in ignore)
        ):
            verdicts.append((det, "ignored"))
            continue
        tallies[det.label].detections += 1
        agnostic.detections += 1
        if any_match is not None:
            used_any.add(any_match)
            agnostic.hits += 1
        if match is not None:
            used.add(match)
            tallies[det.label].hits += 1
            verdicts.append((det, "hit"))
        else:
            verdicts.append((det, "miss"))
    return verdicts


def _best(
    det: Box, truth: list[Box], used: set[int], *, same_class: bool
) -> int | None:
    best, best_iou = None, IOU_MIN
    for i, box in enumerate(truth):
        if i in used or (same_class and box.label != det.label):
            continue
        iou = det.iou(box)
        if iou >= best_iou:
            best, best_iou = i, iou
    return best


def table_row(name: str, tally: Tally) -> str:
    """One line of the results table."""
    precision = ratio(tally.hits, tally.detections)
    recall = ratio(tally.hits, tally.labelled)
    counts = f"{tally.labelled:>9}{tally.detections:>7}{tally.hits:>6}"
    return f"{name:<13}{counts}{precision:>11}{recall:>8}"


def ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="the road-sign-detection-cc0 folder",
    )
    parser.add_argument(
        "--draw", type=Path, help="write annotated photos into this folder"
    )
    args = parser.parse_args(argv)

    images = sorted((args.data / "images").glob("*.png"))
    if not images:
        print(f"No labelled photos under {args.data}", file=sys.stderr)
        return 1

    detector = ColourShapeDetector()
    tallies: dict[str, Tally] = {
        name: Tally() for name in sorted(set(CLASS_MAP.values()))
    }
    agnostic = Tally()
    extra: Counter[str] = Counter()
    for image_path in images:
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        labels = read_labels(args.data / "annotations" / f"{image_path.stem}.xml")
        found = detector.detect(image)
        for box in found:
            tallies.setdefault(box.label, Tally())
        verdicts = score_photo(found, labels, tallies, agnostic)
        extra.update(box.label for box, v in verdicts if v == "miss")
        if args.draw:
            _draw(image, labels, verdicts, args.draw / f"{image_path.stem}.png")

    print(f"Built-in detector on {len(images)} labelled photos (IoU >= {IOU_MIN})")
    print(
        f"{'class':<13}{'labelled':>9}{'found':>7}{'hits':>6}{'precision':>11}{'recall':>8}"
    )
    total, labelled_classes = Tally(), Tally()
    for name, tally in tallies.items():
        print(table_row(name, tally))
        for sum_tally in (total, labelled_classes):
            if sum_tally is labelled_classes and name not in CLASS_MAP.values():
                continue
            sum_tally.hits += tally.hits
            sum_tally.detections += tally.detections
            sum_tally.labelled += tally.labelled
    print(table_row("overall", total))
    print(table_row("3 labelled", labelled_classes))
    print(table_row("any class", agnostic))
    print(
        "overall: every detection counts; '3 labelled': only detections of the "
        "classes the photos label; 'any class': a box on a labelled sign counts "
        "whatever its class."
    )
    return 0


def _draw(image, labels, verdicts, target: Path) -> None:  # type: ignore[no-untyped-def]
    target.parent.mkdir(parents=True, exist_ok=True)
    for _, box in labels:
        cv2.rectangle(image, (box.x1, box.y1), (box.x2, box.y2), (0, 255, 0), 1)
    colours = {"hit": (255, 255, 0), "miss": (0, 0, 255), "ignored": (128, 128, 128)}
    for box, verdict in verdicts:
        cv2.rectangle(image, (box.x1, box.y1), (box.x2, box.y2), colours[verdict], 1)
        cv2.putText(
            image,
            f"{box.label[:4]} {box.score:.2f}",
            (box.x1, box.y2 + 10),
            0,
            0.35,
            colours[verdict],
            1,
        )
    cv2.imwrite(str(target), image)


if __name__ == "__main__":
    raise SystemExit(main())
