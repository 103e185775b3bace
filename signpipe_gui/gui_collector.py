"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs on whichever thread happens to allocate when a threshold is
crossed: in signpipe often an extraction or probe thread. A Qt object it frees there
(a closed viewer held in a reference cycle, say) is destroyed on the wrong thread: its
timers stay registered with the GUI thread's event dispatcher, and the next timer
event goes to freed memory and crashes the window. So automatic collection is
switched off and the GUI thread collects on a timer, with the same thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    """Collects garbage on its own (the GUI) thread while started."""

    def __init__(self, interval_ms: int = 500, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Collect what is left, here, and give collection back to Python."""
        self._timer.stop()
        gc.collect()
        gc.enable()

    def collect_due(self) -> int:
        """Collect the oldest generation whose threshold is crossed; the count freed."""
        counts = gc.get_count()
        thresholds = gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                return gc.collect(generation)
        return 0
