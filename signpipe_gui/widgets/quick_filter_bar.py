"""All / Active / Failed / Done / This workstation, as a row of toggle buttons."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QWidget

from .job_filter import QuickFilter


class QuickFilterBar(QWidget):
    """Exactly one quick filter is on at a time."""

    filter_chosen = Signal(object)  # QuickFilter

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons: dict[QuickFilter, QToolButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for quick in QuickFilter:
            button = QToolButton()
            button.setText(quick.value)
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.clicked.connect(lambda _=False, q=quick: self.filter_chosen.emit(q))
            group.addButton(button)
            layout.addWidget(button)
            self.buttons[quick] = button
        self.buttons[QuickFilter.ALL].setChecked(True)

    def choose(self, quick: QuickFilter) -> None:
        self.buttons[quick].setChecked(True)
        self.filter_chosen.emit(quick)
