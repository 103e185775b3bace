"""The drive's GPS track with the signs found on it, drawn with QPainter (no tiles).

Latitude and longitude are drawn to scale (an equirectangular projection around the
track's mean latitude), with degree ticks on both axes and a scale bar in metres, so
a track reads as a map without map tiles.
"""

from __future__ import annotations

import math
from collections import Counter
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
OTHER_COLOR = QColor("#6a1b9a")
# Room for the degree labels on the left and at the bottom.
_LEFT, _TOP, _RIGHT, _BOTTOM = 92, 16, 24, 46
_MARKER_RADIUS = 6
METRES_PER_DEGREE = 111_320.0
_TEXT = QColor("#333")
_GRID = QColor("#e3e6ea")


@dataclass(frozen=True)
class PlottedSign:
    """A sign to draw: where, and what class."""

    lat: float
    lon: float
    label: str


class TrackPlot(QWidget):
    """Plots lat/lon to scale in the widget, with axes, a scale bar and a legend."""

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

        area = QRectF(self.rect()).adjusted(_LEFT, _TOP, -_RIGHT, -_BOTTOM)
        projection = Projection(points, area)
        self._draw_axes(painter, projection)
        self._draw_track(painter, projection)
        self._draw_signs(painter, projection)
        self._draw_scale_bar(painter, projection)
        self._draw_legend(painter, area)

    # -- the parts ------------------------------------------------------------------

    def _draw_axes(self, painter: QPainter, projection: Projection) -> None:
        """Grid lines at round degrees, labelled on the left and at the bottom."""
        area = projection.area
        south, west = projection.unproject(area.bottomLeft())
        north, east = projection.unproject(area.topRight())
        painter.setPen(QPen(QColor("#c9ced4"), 1))
        painter.drawRect(area)
        metrics = painter.fontMetrics()

        lat_ticks = nice_ticks(south, north)
        for lat in lat_ticks:
            y = projection.project(lat, west).y()
            painter.setPen(QPen(_GRID, 1))
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(_TEXT)
            text = degrees_text(lat, lat_ticks)
            x = area.left() - 6 - metrics.horizontalAdvance(text)
            painter.drawText(QPointF(x, y + metrics.ascent() / 2 - 1), text)

        lon_ticks = nice_ticks(west, east, count=4)
        for lon in lon_ticks:
            x = projection.project(south, lon).x()
            painter.setPen(QPen(_GRID, 1))
            painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
            painter.setPen(_TEXT)
            text = degrees_text(lon, lon_ticks)
            width = metrics.horizontalAdvance(text)
            painter.drawText(
                QPointF(x - width / 2, area.bottom() + 4 + metrics.ascent()), text
            )

        self._draw_axis_titles(painter, area)

    def _draw_axis_titles(self, painter: QPainter, area: QRectF) -> None:
        metrics = painter.fontMetrics()
        painter.setPen(QColor("#666"))
        below = area.bottom() + 6 + metrics.height()
        painter.drawText(
            QRectF(area.left(), below, area.width(), metrics.height()),
            int(Qt.AlignmentFlag.AlignCenter),
            "Longitude",
        )
        painter.save()
        painter.translate(4 + metrics.ascent(), area.center().y())
        painter.rotate(-90)
        width = metrics.horizontalAdvance("Latitude")
        painter.drawText(QPointF(-width / 2, 0), "Latitude")
        painter.restore()

    def _draw_track(self, painter: QPainter, projection: Projection) -> None:
        if not self.track:
            return
        path = QPainterPath(projection.project(*self.track[0]))
        for lat, lon in self.track[1:]:
            path.lineTo(projection.project(lat, lon))
        painter.setPen(QPen(QColor("#546e7a"), 2.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        for (lat, lon), color, word in (
            (self.track[0], QColor("#2e7d32"), "Start"),
            (self.track[-1], QColor("#37474f"), "End"),
        ):
            where = projection.project(lat, lon)
            painter.setPen(QPen(QColor("white"), 1.5))
            painter.setBrush(color)
            painter.drawEllipse(where, 5, 5)
            painter.setPen(color)
            painter.drawText(where + QPointF(9, 4), word)

    def _draw_signs(self, painter: QPainter, projection: Projection) -> None:
        """One marker per sign; signs at one spot are drawn side by side."""
        at_spot: Counter[tuple[int, int]] = Counter()
        for sign in self.signs:
            where = projection.project(sign.lat, sign.lon)
            spot = (round(where.x() / 4), round(where.y() / 4))
            where += QPointF(at_spot[spot] * (2 * _MARKER_RADIUS + 1), 0)
            at_spot[spot] += 1
            painter.setPen(QPen(QColor("white"), 1.5))
            painter.setBrush(CLASS_COLORS.get(sign.label, OTHER_COLOR))
            painter.drawEllipse(where, _MARKER_RADIUS, _MARKER_RADIUS)

    def _draw_scale_bar(self, painter: QPainter, projection: Projection) -> None:
        """A bar of a round number of metres, about a fifth of the plot wide."""
        metres_per_pixel = METRES_PER_DEGREE / projection.scale
        metres = nice_number(projection.area.width() / 5 * metres_per_pixel)
        length = metres / metres_per_pixel
        right = projection.area.right() - 12
        y = projection.area.bottom() - 14
        painter.setPen(QPen(_TEXT, 2))
        painter.drawLine(QPointF(right - length, y), QPointF(right, y))
        for x in (right - length, right):
            painter.drawLine(QPointF(x, y - 4), QPointF(x, y + 4))
        text = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"
        width = painter.fontMetrics().horizontalAdvance(text)
        painter.drawText(QPointF(right - length / 2 - width / 2, y - 7), text)

    def _draw_legend(self, painter: QPainter, area: QRectF) -> None:
        counts = Counter(s.label for s in self.signs)
        if not counts:
            return
        metrics = painter.fontMetrics()
        rows = [f"{label} · {n}" for label, n in sorted(counts.items())]
        width = max(metrics.horizontalAdvance(r) for r in rows) + 34
        box = QRectF(area.left() + 8, area.top() + 8, width, 18 * len(rows) + 8)
        painter.setPen(QPen(QColor("#d5d9de"), 1))
        painter.setBrush(QColor(255, 255, 255, 230))
        painter.drawRoundedRect(box, 4, 4)
        y = box.top() + 4
        for label, row in zip(sorted(counts), rows, strict=True):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(CLASS_COLORS.get(label, OTHER_COLOR))
            painter.drawEllipse(QPointF(box.left() + 14, y + 9), 5, 5)
            painter.setPen(_TEXT)
            painter.drawText(QPointF(box.left() + 26, y + 13), row)
            y += 18


class Projection:
    """lat/lon <-> widget point, keeping the map's aspect (longitude shrinks by cos)."""

    def __init__(self, points: list[tuple[float, float]], area: QRectF) -> None:
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        self.area = area
        self.shrink = math.cos(math.radians(sum(lats) / len(lats)))
        self.west, self.north = min(lons), max(lats)
        width = max((max(lons) - self.west) * self.shrink, 1e-6)
        height = max(self.north - min(lats), 1e-6)
        # Pixels per degree of latitude.
        self.scale = min(area.width() / width, area.height() / height)
        self.left = area.left() + (area.width() - width * self.scale) / 2
        self.top = area.top() + (area.height() - height * self.scale) / 2

    def project(self, lat: float, lon: float) -> QPointF:
        return QPointF(
            self.left + (lon - self.west) * self.shrink * self.scale,
            self.top + (self.north - lat) * self.scale,
        )

    def unproject(self, point: QPointF) -> tuple[float, float]:
        lat = self.north - (point.y() - self.top) / self.scale
        lon = self.west + (point.x() - self.left) / (self.shrink * self.scale)
        return lat, lon


def nice_number(value: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten that is not above ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return max(step * power for step in (1, 2, 5) if step * power <= value)


def nice_step(value: float) -> float:
    """The smallest of 1, 2 or 5 times a power of ten that is not below ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return min(step * power for step in (1, 2, 5, 10) if step * power >= value)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values between ``low`` and ``high``, about ``count`` of them."""
    if high <= low:
        return [low]
    step = nice_step((high - low) / count)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def degrees_text(value: float, ticks: list[float]) -> str:
    """A tick's degrees with as many decimals as the tick spacing needs."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:.{decimals}f}°"
