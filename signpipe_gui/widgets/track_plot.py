"""The drive's GPS track with the signs found on it, drawn with QPainter (no tiles)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

CLASS_COLORS = {
    "stop": QColor("#c62828"),
    "prohibitory": QColor("#e53935"),
    "danger": QColor("#ef6c00"),
    "mandatory": QColor("#1565c0"),
    "priority": QColor("#f9a825"),
    "information": QColor("#00838f"),
}
_MARGIN = 24


@dataclass(frozen=True)
class PlottedSign:
    """A sign to draw: where, and what class."""

    lat: float
    lon: float
    label: str


class TrackPlot(QWidget):
    """Plots lat/lon in an equirectangular projection scaled to fit the widget."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.track: list[tuple[float, float]] = []
        self.signs: list[PlottedSign] = []
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_data(
        self, track: list[tuple[float, float]], signs: list[PlottedSign]
    ) -> None:
        self.track = track
        self.signs = signs
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#fafbfc"))
        points = self.track + [(s.lat, s.lon) for s in self.signs]
        if not points:
            painter.setPen(QColor("#777"))
            painter.drawText(
                self.rect(),
                Qt.AlignmentFlag.AlignCenter,
                "No GPS track in this recording",
            )
            return

        project = _projection(
            points, QRectF(self.rect()).adjusted(_MARGIN, _MARGIN, -_MARGIN, -_MARGIN)
        )
        if self.track:
            path = QPainterPath(project(*self.track[0]))
            for lat, lon in self.track[1:]:
                path.lineTo(project(lat, lon))
            painter.setPen(QPen(QColor("#546e7a"), 2.5))
            painter.drawPath(path)
            painter.setBrush(QColor("#2e7d32"))
            painter.drawEllipse(project(*self.track[0]), 5, 5)

        for sign in self.signs:
            color = CLASS_COLORS.get(sign.label, QColor("#6a1b9a"))
            painter.setPen(QPen(QColor("white"), 1.5))
            painter.setBrush(color)
            painter.drawEllipse(project(sign.lat, sign.lon), 6, 6)
        self._draw_legend(painter)

    def _draw_legend(self, painter: QPainter) -> None:
        labels = sorted({s.label for s in self.signs})
        y = 8
        for label in labels:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(CLASS_COLORS.get(label, QColor("#6a1b9a")))
            painter.drawEllipse(QPointF(14, y + 7), 5, 5)
            painter.setPen(QColor("#333"))
            painter.drawText(QPointF(24, y + 11), label)
            y += 18


def _projection(points: list[tuple[float, float]], area: QRectF):  # type: ignore[no-untyped-def]
    """lat/lon -> widget point, keeping the map's aspect (longitude shrinks by cos)."""
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    shrink = math.cos(math.radians(sum(lats) / len(lats)))
    west, east = min(lons), max(lons)
    south, north = min(lats), max(lats)
    width = max((east - west) * shrink, 1e-6)
    height = max(north - south, 1e-6)
    scale = min(area.width() / width, area.height() / height)
    left = area.left() + (area.width() - width * scale) / 2
    top = area.top() + (area.height() - height * scale) / 2

    def project(lat: float, lon: float) -> QPointF:
        return QPointF(
            left + (lon - west) * shrink * scale, top + (north - lat) * scale
        )

    return project
