"""Runs slow calls on a worker thread and hands their results back to the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

logger = logging.getLogger(__name__)

Done = Callable[[Future[Any]], None]


class BackgroundTasks(QObject):
    """One worker thread; each call's ``on_done(future)`` runs on the GUI thread."""

    _finished = Signal(object)  # (on_done, future), delivered to the GUI thread

    def __init__(
        self, parent: QObject | None = None, *, name: str = "background"
    ) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"signpipe-{name}")
        self._finished.connect(self._on_finished)
        self._open = True

    def run(self, call: Callable[[], Any], on_done: Done | None = None) -> Future[Any]:
        """Run ``call`` in the background; then ``on_done`` with its future."""
        future = self._executor.submit(call)
        future.add_done_callback(lambda f: self._deliver(on_done, f))
        return future

    def shutdown(self) -> None:
        """Wait for the running call; drop the queued ones."""
        self._open = False
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _deliver(self, on_done: Done | None, future: Future[Any]) -> None:
        if future.cancelled():
            return
        if on_done is None:
            if future.exception() is not None:
                logger.error("Background call failed", exc_info=future.exception())
            return
        if self._open:
            self._finished.emit((on_done, future))

    def _on_finished(self, item: tuple[Done, Future[Any]]) -> None:
        on_done, future = item
        if self._open:
            on_done(future)
