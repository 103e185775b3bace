"""What the window shows around the table: the empty state and the drop highlight."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyState(QWidget):
    """Says what to do when there are no jobs, and offers a sample recording."""

    demo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Drop recording archives here")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        title.setFont(font)
        hint = QLabel(
            "zip or tar archives of recording folders · or press Ctrl+O to choose files"
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # palette(mid) is a border colour, too faint for words; placeholder text
        # is the theme's own quieter text colour.
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.demo_button = QPushButton("Try a sample recording")
        self.demo_button.clicked.connect(self.demo_requested)
        no_archive = QLabel("No archive at hand?")
        no_archive.setAlignment(Qt.AlignmentFlag.AlignCenter)

        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(24)
        layout.addWidget(no_archive)
        layout.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)

    def paintEvent(self, event: QPaintEvent) -> None:
        """A dashed frame: the whole area takes drops, not only the words."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(
            self.palette().color(QPalette.ColorRole.Mid), 2, Qt.PenStyle.DashLine
        )
        painter.setPen(pen)
        painter.drawRoundedRect(self.rect().adjusted(12, 12, -12, -12), 10, 10)


class DropHighlight(QWidget):
    """A frame over the window while archives are dragged over it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def show_over(self, widget: QWidget) -> None:
        self.setGeometry(widget.rect())
        self.raise_()
        self.show()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(40, 110, 200, 40))
        pen = QPen(QColor(40, 110, 200), 3, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(self.rect().adjusted(6, 6, -6, -6), 10, 10)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        painter.setFont(font)
        painter.drawText(
            self.rect(), Qt.AlignmentFlag.AlignCenter, "Drop to add the archives"
        )
