"""A tray notice when a batch finishes or a job fails, where the desktop has a tray."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

logger = logging.getLogger(__name__)


class TrayNotifier:
    """Shows desktop notices through a tray icon; only logs where there is no tray."""

    def __init__(self, window: QWidget) -> None:
        self._icon: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self._icon = QSystemTrayIcon(QApplication.windowIcon(), window)
            self._icon.setToolTip("signpipe")
            self._icon.show()

    @property
    def available(self) -> bool:
        return self._icon is not None

    def notify(self, title: str, text: str) -> None:
        logger.info("%s: %s", title, text)
        if self._icon is not None:
            self._icon.showMessage(title, text)

    def hide(self) -> None:
        if self._icon is not None:
            self._icon.hide()
