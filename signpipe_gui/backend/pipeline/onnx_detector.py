"""A lab's own detection model as an ONNX file (needs the ``onnx`` extra).

``settings.model_file`` names the ``.onnx`` file. Beside it, a JSON file of the same
name plus ``.json`` (``model.onnx.json``) describes its input and outputs::

    {
      "input": {"width": 640, "height": 640, "rgb": true, "scale": 0.00392157},
      "outputs": {"boxes": "boxes", "scores": "scores", "labels": "labels"},
      "box_format": "xyxy",          # or "cxcywh"
      "normalized": false,           # boxes in 0..1 instead of input pixels
      "classes": ["stop", "prohibitory", "danger", "mandatory", "priority",
                  "information"],
      "score_threshold": 0.5
    }

``boxes`` is (N, 4) or (1, N, 4), ``scores`` and ``labels`` (N,) or (1, N). Labels
index ``classes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..settings import Settings
from .types import Box, PipelineError

DEFAULT_CLASSES = [
    "stop",
    "prohibitory",
    "danger",
    "mandatory",
    "priority",
    "information",
]


@dataclass(frozen=True)
class ModelDescription:
    """How to feed the model and read its outputs."""

    width: int = 640
    height: int = 640
    rgb: bool = True
    scale: float = 1 / 255
    outputs: dict[str, str] = field(
        default_factory=lambda: {
            "boxes": "boxes",
            "scores": "scores",
            "labels": "labels",
        }
    )
    box_format: str = "xyxy"
    normalized: bool = False
    classes: list[str] = field(default_factory=lambda: list(DEFAULT_CLASSES))
    score_threshold: float = 0.5

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelDescription:
        model_input = data.get("input", {})
        defaults = cls()
        return cls(
            width=int(model_input.get("width", defaults.width)),
            height=int(model_input.get("height", defaults.height)),
            rgb=bool(model_input.get("rgb", defaults.rgb)),
            scale=float(model_input.get("scale", defaults.scale)),
            outputs={**defaults.outputs, **data.get("outputs", {})},
            box_format=str(data.get("box_format", defaults.box_format)),
            normalized=bool(data.get("normalized", defaults.normalized)),
            classes=list(data.get("classes", defaults.classes)),
            score_threshold=float(data.get("score_threshold", 0.5)),
        )


class OnnxDetector:
    """Runs an ONNX detection model with onnxruntime."""

    name = "onnx"

    def __init__(self, model_file: Path, description: ModelDescription) -> None:
        try:
            import onnxruntime
        except ImportError as exc:
            raise PipelineError(
                "onnxruntime_missing",
                "The ONNX detector needs onnxruntime; install signpipe[onnx].",
            ) from exc
        self.description = description
        self.session = onnxruntime.InferenceSession(
            str(model_file), providers=onnxruntime.get_available_providers()
        )
        self.input_name = self.session.get_inputs()[0].name

    @classmethod
    def from_settings(cls, settings: Settings) -> OnnxDetector:
        """The model named by ``settings.model_file`` and its JSON description."""
        model_file = Path(settings.model_file).expanduser()
        if not settings.model_file or not model_file.is_file():
            raise PipelineError(
                "model_missing",
                f"The model file {model_file.name or '(none set)'} does not exist.",
            )
        return cls(model_file, read_description(model_file))

    def detect(self, image: np.ndarray) -> list[Box]:
        """Boxes the model finds in a BGR image, in the image's pixels."""
        d = self.description
        blob = cv2.resize(image, (d.width, d.height), interpolation=cv2.INTER_LINEAR)
        if d.rgb:
            blob = cv2.cvtColor(blob, cv2.COLOR_BGR2RGB)
        tensor = (blob.astype(np.float32) * d.scale).transpose(2, 0, 1)[None]

        names = [d.outputs["boxes"], d.outputs["scores"], d.outputs["labels"]]
        boxes, scores, labels = self.session.run(names, {self.input_name: tensor})
        return decode_outputs(boxes, scores, labels, d, image.shape[1], image.shape[0])


def read_description(model_file: Path) -> ModelDescription:
    """The model's description from ``<model>.json``, or the defaults without one."""
    sidecar = model_file.with_name(model_file.name + ".json")
    if not sidecar.is_file():
        return ModelDescription()
    try:
        return ModelDescription.from_json(json.loads(sidecar.read_text("utf-8")))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise PipelineError(
            "model_description_invalid",
            f"The model description {sidecar.name} cannot be read: {exc}.",
        ) from exc


def decode_outputs(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    d: ModelDescription,
    image_width: int,
    image_height: int,
) -> list[Box]:
    """The model's raw outputs as boxes in the original image's pixels."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    labels = np.asarray(labels).reshape(-1).astype(int)

    if d.box_format == "cxcywh":
        cx, cy, w, h = boxes.T
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    sx, sy = (
        (image_width, image_height)
        if d.normalized
        else (image_width / d.width, image_height / d.height)
    )

    found = []
    for (x1, y1, x2, y2), score, label in zip(boxes, scores, labels, strict=True):
        if score < d.score_threshold or not 0 <= label < len(d.classes):
            continue
        found.append(
            Box(
                round(float(x1) * sx),
                round(float(y1) * sy),
                round(float(x2) * sx),
                round(float(y2) * sy),
                d.classes[label],
                round(float(score), 3),
            )
        )
    return found
