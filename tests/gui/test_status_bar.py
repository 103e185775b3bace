"""The status bar's slow checks run off the GUI thread, the first one a little late."""

from __future__ import annotations

import threading

from PySide6.QtWidgets import QStatusBar
from pytestqt.qtbot import QtBot

from signpipe_gui.widgets.status_bar import Probe, StatusPanel


def test_the_first_check_waits_then_fills_the_labels(qtbot: QtBot) -> None:
    bar = QStatusBar()
    qtbot.addWidget(bar)
    calls: list[str] = []

    def probe() -> Probe:
        calls.append(threading.current_thread().name)
        return Probe(workers=2, free_bytes=5 * 1024**3)

    panel = StatusPanel(bar, "embedded", probe, interval_ms=300)
    panel.start()
    qtbot.wait(100)
    assert not calls  # not at once: the window's first load goes first

    qtbot.waitUntil(lambda: panel.workers.text() == "Workers online: 2", timeout=3000)
    panel.shutdown()
    assert calls[0].startswith("signpipe-probe")
