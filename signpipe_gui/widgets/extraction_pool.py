"""Runs extraction jobs on QThreads, a few at a time; the others wait as ``queued``.

Threads reach the window only through signals. Cancelling is cooperative: the job's
own flag is checked between archive members, and the job cleans up after itself.
"""

from __future__ import annotations

import logging
import os
import sys
import weakref
from collections import deque
from typing import Any, Protocol

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal

logger = logging.getLogger(__name__)

_threads: weakref.WeakSet[ExtractionThread] = weakref.WeakSet()

# How far below the window's CPU priority extraction threads run: well below, so
# that it gets a core at once, yet not idle-only, so that other busy programs on the
# machine do not starve them.
EXTRACTION_NICE = 10


class Job(Protocol):
    """What the pool needs of ``backend.ingest.ExtractionJob``."""

    job_id: str

    def run(self) -> dict[str, Any]: ...

    def cancel(self) -> None: ...


def running_threads() -> list[ExtractionThread]:
    """Extraction threads still running anywhere (tests check there are none)."""
    return [t for t in list(_threads) if shiboken6.isValid(t) and t.isRunning()]


class ExtractionThread(QThread):
    """One job's ``run()`` on its own thread; emits the final job object."""

    job_ended = Signal(object)

    def __init__(self, job: Job, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.setObjectName(f"extraction-{job.job_id[:8]}")
        _threads.add(self)

    def run(self) -> None:
        _yield_cpu_to_window()
        try:
            final = self.job.run()
        except Exception:
            # run() records every error in the job object itself; this is a last
            # guard so that a bug never ends a thread without a word.
            logger.exception(
                "Extraction %s ended with an unexpected error", self.job.job_id
            )
            final = {
                "job_id": self.job.job_id,
                "status": "error",
                "error_msg": "The extraction failed unexpectedly.",
            }
        self.job_ended.emit(final)


def _yield_cpu_to_window() -> None:
    """Lower this thread's CPU priority, and so that of the threads its job starts.

    Several extractions keep every core of a small machine busy; at the window's
    priority they leave its thread waiting for a core longer than it runs, and the
    window stalls for tenths of a second. Linux keeps the nice value per thread
    (``nice()`` changes the calling thread's only), and a new thread starts with
    its creator's. Elsewhere ``nice()`` would lower the whole process.
    """
    if sys.platform.startswith("linux"):
        try:
            os.nice(EXTRACTION_NICE)
        except OSError as exc:
            logger.debug("Extraction keeps its CPU priority: %s", exc)


class ExtractionPool(QObject):
    """A queue of jobs and at most ``max_concurrent`` threads running them."""

    job_started = Signal(str)  # job id
    job_ended = Signal(object)  # the final job object
    batch_finished = Signal()  # nothing queued or running any more

    def __init__(self, max_concurrent: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.max_concurrent = max(1, max_concurrent)
        self._queue: deque[Job] = deque()
        self._running: dict[str, ExtractionThread] = {}

    @property
    def busy(self) -> bool:
        return bool(self._queue or self._running)

    def owns(self, job_id: str) -> bool:
        """True while the job is queued or running in this pool."""
        return job_id in self._running or any(j.job_id == job_id for j in self._queue)

    def running_job_ids(self) -> list[str]:
        return list(self._running)

    def queued_job_ids(self) -> list[str]:
        return [job.job_id for job in self._queue]

    def submit(self, job: Job) -> None:
        """Queue a created job; it starts as soon as a slot is free."""
        self._queue.append(job)
        self._start_next()

    def cancel(self, job_id: str) -> bool:
        """Ask a job to stop. A queued job is started at once, so it ends cancelled."""
        thread = self._running.get(job_id)
        if thread is not None:
            thread.job.cancel()
            return True
        for job in list(self._queue):
            if job.job_id == job_id:
                self._queue.remove(job)
                job.cancel()
                # Its run() sees the flag first thing and records `cancelled`.
                self._start(job)
                return True
        return False

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel every job and wait for the threads. True when all have ended."""
        while self._queue:
            job = self._queue.popleft()
            job.cancel()
            self._start(job)
        for thread in list(self._running.values()):
            thread.job.cancel()
        ended = all(t.wait(timeout_ms) for t in list(self._running.values()))
        for thread in list(self._running.values()):
            self._on_thread_finished(thread)
        return ended

    def _start_next(self) -> None:
        while self._queue and len(self._running) < self.max_concurrent:
            self._start(self._queue.popleft())

    def _start(self, job: Job) -> None:
        thread = ExtractionThread(job)
        thread.job_ended.connect(self.job_ended)
        # A bound method of this GUI-thread object, not a lambda: a lambda would be
        # called directly on the ending thread instead of queued to this one.
        thread.finished.connect(self._on_any_thread_finished)
        self._running[job.job_id] = thread
        thread.start()
        logger.info(
            "Extraction %s started (running=%s)", job.job_id, len(self._running)
        )
        self.job_started.emit(job.job_id)

    def _on_any_thread_finished(self) -> None:
        thread = self.sender()
        if isinstance(thread, ExtractionThread):
            self._on_thread_finished(thread)

    def _on_thread_finished(self, thread: ExtractionThread) -> None:
        if self._running.get(thread.job.job_id) is not thread:
            return
        thread.wait()
        # Dropping the last reference deletes the finished thread; deleteLater()
        # on an object Python owns would delete it a second time.
        del self._running[thread.job.job_id]
        self._start_next()
        if not self.busy:
            self.batch_finished.emit()
