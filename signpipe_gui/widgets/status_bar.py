"""The status bar: Redis, workers online, tasks waiting and free space in the store.

Asking Celery which workers answer takes up to a second, and a store on a network
share can be slow to stat, so both run on a worker thread and come back by signal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QStatusBar

from .formatting import human_bytes

logger = logging.getLogger(__name__)

LABEL_GAP = 8
# The first check builds the Celery app and imports what asking the workers needs:
# some 0.3 s of Python holding the GIL (later checks take milliseconds). Run at once
# it meets the first load of the job table and stalls the window, so it waits.
FIRST_PROBE_DELAY_MS = 3_000


@dataclass(frozen=True)
class Probe:
    """What a slow check found; None where it could not tell."""

    workers: int | None
    free_bytes: int | None


class StatusPanel(QObject):
    """Fills a QStatusBar with labels and keeps them current."""

    probed = Signal(object)  # Probe, from the worker thread

    def __init__(
        self,
        bar: QStatusBar,
        redis_words: str,
        probe: Callable[[], Probe],
        *,
        interval_ms: int = 10_000,
    ) -> None:
        super().__init__(bar)
        self._redis_words = redis_words
        self._probe = probe
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="signpipe-probe")
        self._probing = False

        self.redis = QLabel()
        self.workers = QLabel("Workers: …")
        self.waiting = QLabel("Pipelines waiting: …")
        self.free = QLabel("Free: …")
        for label in (self.redis, self.workers, self.waiting, self.free):
            # Room between the labels, which the status bar does not separate.
            label.setContentsMargins(LABEL_GAP, 0, LABEL_GAP, 0)
            bar.addPermanentWidget(label)
        self.set_connected(None)

        self.probed.connect(self._on_probed)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.refresh)
        self._first = QTimer(self)
        self._first.setSingleShot(True)
        self._first.setInterval(min(FIRST_PROBE_DELAY_MS, interval_ms))
        self._first.timeout.connect(self.refresh)

    def start(self) -> None:
        self._timer.start()
        self._first.start()

    def shutdown(self) -> None:
        self._first.stop()
        self._timer.stop()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def refresh(self) -> None:
        """Run the slow checks once more, unless the last run is still going."""
        if self._probing:
            return
        self._probing = True
        self._executor.submit(self._run_probe)

    def set_connected(self, connected: bool | None) -> None:
        state = {True: "connected", False: "unreachable", None: "connecting…"}
        self.redis.setText(f"Redis: {self._redis_words} · {state[connected]}")
        self.redis.setStyleSheet("" if connected is not False else "color: #b3261e")

    def set_tasks_waiting(self, waiting: int | None) -> None:
        if waiting is not None:
            self.waiting.setText(f"Pipelines waiting: {waiting:,}")

    def _run_probe(self) -> None:
        try:
            found = self._probe()
        except Exception:
            logger.exception("Status probe failed")
            found = Probe(None, None)
        try:
            self.probed.emit(found)
        except RuntimeError:
            # The window closed while the probe ran; nobody is left to tell.
            logger.debug("Status probe ended after the window closed")

    def _on_probed(self, probe: Probe) -> None:
        self._probing = False
        if probe.workers is None:
            self.workers.setText("Workers: unknown")
        else:
            self.workers.setText(f"Workers online: {probe.workers}")
        self.workers.setStyleSheet("color: #b3261e" if probe.workers == 0 else "")
        if probe.free_bytes is not None:
            self.free.setText(f"Free in store: {human_bytes(probe.free_bytes)}")
