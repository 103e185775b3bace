"""Paints the progress and pipeline columns as bars with words on them."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from .job_table_model import ProgressRole, StatusRole

_BAR_COLORS = {
    "error": QColor("#e8b4b0"),
    "cancelled": QColor("#d6d6d6"),
    "done": QColor("#b7dfbf"),
}
_ACTIVE_COLOR = QColor("#a9cbee")
_TRACK_COLOR = QColor("#eef1f4")
_FULL_BAR_STATUSES = frozenset({"error", "cancelled"})


class ProgressDelegate(QStyledItemDelegate):
    """Draws a bar from ProgressRole and the cell's text over it.

    The model only says how far a job is; the colour comes from StatusRole, so a
    failed job's bar turns red without the model knowing anything about painting.
    """

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        percent = index.data(ProgressRole)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        if percent is None or not text:
            super().paint(painter, option, index)
            return

        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:  # type: ignore[operator]
            painter.fillRect(option.rect, option.palette.highlight())

        bar = option.rect.adjusted(3, 3, -3, -3)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_TRACK_COLOR)
        painter.drawRoundedRect(bar, 3, 3)
        filled = QRect(bar)
        filled.setWidth(round(bar.width() * self._fraction(index, float(percent))))
        painter.setBrush(self._color(index))
        if filled.width() > 0:
            painter.drawRoundedRect(filled, 3, 3)

        painter.setPen(option.palette.color(QPalette.ColorRole.Text))
        elided = option.fontMetrics.elidedText(
            text, Qt.TextElideMode.ElideRight, bar.width() - 8
        )
        painter.drawText(
            bar.adjusted(4, 0, -4, 0),
            int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
            elided,
        )
        painter.restore()

    def _fraction(
        self, index: QModelIndex | QPersistentModelIndex, percent: float
    ) -> float:
        # A failed or cancelled job's bar is a coloured label for its sentence: how
        # far it got is not news, and half a red bar under the words reads badly.
        if str(index.data(StatusRole)) in _FULL_BAR_STATUSES:
            return 1.0
        return min(max(percent, 0.0), 100.0) / 100

    def _color(self, index: QModelIndex | QPersistentModelIndex) -> QColor:
        return _BAR_COLORS.get(str(index.data(StatusRole)), _ACTIVE_COLOR)
