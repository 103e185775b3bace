"""A running job's object: kept in memory, published to Redis at a bounded rate.

The extraction thread changes the object freely (``set``, ``advance``); what reaches
Redis is throttled to ``interval`` seconds, except at a phase change, which is always
published. The writes themselves run on a thread of the job's own, so a slow or
absent Redis never holds up extraction; a phase change waits until its state is sent,
so no reader misses a phase. Every publish is a merge of the whole object: fields
another process owns (``leave_to_others``) are left out, so they are never written
back stale, and a Redis that restarted without its data gets the job back complete.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .jobs import PHASE_MESSAGES, PHASE_STATUS, Phase, band_percent, now
from .progress import RedisProgressService

logger = logging.getLogger(__name__)

SPEED_WINDOW_SECONDS = 3.0


class JobReport:
    """One job's object and its publishing."""

    def __init__(
        self,
        progress: RedisProgressService,
        job_id: str,
        *,
        interval: float,
        final_timeout: float,
    ) -> None:
        self.progress = progress
        self.job_id = job_id
        self.interval = interval
        self.final_timeout = final_timeout
        self._state: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._last_publish = 0.0
        self._rate = _Rate()
        self._foreign: set[str] = set()
        self._sender = _Sender(self._send, name=f"job-{job_id[:8]}-publish")

    def create(self, job: dict[str, Any]) -> None:
        """Start from ``job`` and store it whole (a new row for every reader)."""
        with self._lock:
            self._state = dict(job)
        self.progress.create_job(self.snapshot())

    def adopt(self, job: dict[str, Any]) -> None:
        """Carry on with ``job`` as another process created and published it."""
        with self._lock:
            self._state = dict(job)

    @property
    def created(self) -> bool:
        return bool(self._state)

    def snapshot(self) -> dict[str, Any]:
        """A copy of the latest object (also while Redis is away)."""
        with self._lock:
            return dict(self._state)

    def get(self, name: str) -> Any:
        with self._lock:
            return self._state.get(name)

    def set(self, **fields: Any) -> None:
        """Change fields in memory; the next publish carries them."""
        with self._lock:
            self._state.update(fields)

    def leave_to_others(self, *names: str) -> None:
        """Stop writing ``names``: another process now keeps them up to date."""
        self._foreign.update(names)

    def enter(self, phase: Phase, *, bytes_total: int | None = None) -> None:
        """Start a phase at the bottom of its band; always published."""
        self._rate = _Rate()
        changes: dict[str, Any] = {
            "status": PHASE_STATUS[phase].value,
            "phase": phase.value,
            "progress_percent": band_percent(phase, 0.0),
            "message": PHASE_MESSAGES[phase],
            "bytes_done": 0,
            "speed_bps": None,
            "eta_seconds": None,
        }
        if bytes_total is not None:
            changes["bytes_total"] = bytes_total
        self.set(**changes)
        self.publish()

    def advance(self, phase: Phase, done: int, total: int) -> None:
        """Record ``done`` of ``total`` bytes in ``phase``; publish if it is time."""
        fraction = done / total if total else 1.0
        speed = self._rate.add(done)
        eta = (total - done) / speed if speed else None
        with self._lock:
            percent = max(
                self._state.get("progress_percent") or 0,
                round(band_percent(phase, fraction), 2),
            )
            self._state.update(
                bytes_done=done,
                progress_percent=percent,
                speed_bps=round(speed) if speed is not None else None,
                eta_seconds=round(eta, 1) if eta is not None else None,
            )
        if time.monotonic() - self._last_publish >= self.interval:
            self._last_publish = time.monotonic()
            self._sender.post()

    def publish(self) -> None:
        """Send the object now and wait until it went out (or was kept for later)."""
        self._last_publish = time.monotonic()
        self._sender.post(wait=True)

    def publish_final(self) -> bool:
        """Publish and wait, up to ``final_timeout``, until Redis has it."""
        self.publish()
        self._sender.stop()
        deadline = time.monotonic() + self.final_timeout
        delay = 0.1
        while not self.progress.flush():
            if time.monotonic() > deadline:
                logger.error(
                    "Job %s ended %s but Redis did not come back within %.0f s; "
                    "its final state was not stored",
                    self.job_id,
                    self.get("status"),
                    self.final_timeout,
                )
                return False
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        return True

    def _send(self) -> None:
        self.set(updated_at=now())
        job = self.snapshot()
        for name in self._foreign:
            job.pop(name, None)
        self.progress.update_extraction_progress(self.job_id, **job)


class _Sender:
    """Runs ``send`` on a thread of its own whenever something was posted.

    Posts are numbered; each send covers every post made before it started, so
    bursts collapse into one write and the newest state always goes last.
    """

    def __init__(self, send: Callable[[], None], *, name: str) -> None:
        self._send = send
        self._name = name
        self._changed = threading.Condition()
        self._posted = 0
        self._sent = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def post(self, *, wait: bool = False) -> None:
        with self._changed:
            if self._stopping:
                # Posted after the end (not done by the job): send it in place.
                self._send()
                return
            self._posted += 1
            ticket = self._posted
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=self._name, daemon=True
                )
                self._thread.start()
            self._changed.notify_all()
            if wait:
                self._changed.wait_for(lambda: self._sent >= ticket)

    def stop(self) -> None:
        """Send what is posted, then end the thread."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: self._sent < self._posted or self._stopping
                )
                if self._sent >= self._posted:
                    return
                ticket = self._posted
            try:
                self._send()
            except Exception:
                # A write error is the progress service's to keep and retry; only a
                # bug lands here, and it must not leave a waiting phase change hung.
                logger.exception("Publishing a job object failed")
            with self._changed:
                self._sent = ticket
                self._changed.notify_all()


class _Rate:
    """Bytes per second over the last few seconds of a phase."""

    def __init__(self) -> None:
        self._samples: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, done: int) -> float | None:
        moment = time.monotonic()
        self._samples.append((moment, done))
        while (
            len(self._samples) > 2
            and moment - self._samples[1][0] > SPEED_WINDOW_SECONDS
        ):
            self._samples.popleft()
        first_time, first_done = self._samples[0]
        if moment - first_time < 0.05:
            return None
        return (done - first_done) / (moment - first_time)
