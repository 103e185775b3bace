"""Polls Redis for job and pipeline changes without ever blocking the window.

Runs as a coroutine on the qasync event loop with ``redis.asyncio``. Each cycle is one
round trip: an MGET of every job that is not finished, an MGET of the pipelines being
followed, the newest ids of ``signpipe:jobs`` (jobs from other workstations appear
too) and the length of the Celery queue. Only new jobs cost a second trip, at most
``LOAD_BATCH`` of them a cycle; the cycles of a first load follow one another at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis
from PySide6.QtCore import QObject, Signal
from redis.exceptions import RedisError

from signpipe_gui.backend.progress import JOB_KEY_PREFIX, JOBS_INDEX_KEY

from . import job_text

logger = logging.getLogger(__name__)

PIPELINE_KEY_PREFIX = "pipeline:"

# A finished job whose pipeline mirror is not there (yet) is followed this long.
PIPELINE_GRACE_SECONDS = 120.0

# New jobs read and reported per cycle. A first load of a thousand jobs then reaches
# the window in pieces it applies quickly, with events handled in between, instead
# of one result that holds the window up for a large part of a second.
LOAD_BATCH = 40


@dataclass
class PollResult:
    """What one poll found: only what changed since the last one."""

    jobs: list[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks_waiting: int | None = None
    seconds: float = 0.0


class JobPoller(QObject):
    """Follows jobs and pipelines in Redis and reports what changed."""

    polled = Signal(object)  # PollResult
    connection_changed = Signal(bool)  # True when Redis answers again

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        interval: float = 0.5,
        history: int = 1000,
        recent: int = 100,
        queue_name: str = "celery",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._client = client
        self.interval = interval
        self._history = history
        self._recent = recent
        self._queue_name = queue_name
        self._known: set[str] = set()
        self._unread: list[str] = []  # known to exist, not read yet; newest first
        self._ignored: set[str] = set()
        self._active: set[str] = set()
        self._raw: dict[str, bytes] = {}
        self._pipelines: dict[str, float] = {}  # recording id -> follow-until time
        self._pipeline_raw: dict[str, bytes] = {}
        self._loaded = False
        self._connected: bool | None = None
        self._task: asyncio.Task[None] | None = None

    # -- what to follow ---------------------------------------------------------

    def follow(self, job_id: str) -> None:
        """Poll this job from now on (it was just created here)."""
        self._ignored.discard(job_id)
        self._known.add(job_id)
        self._active.add(job_id)

    def forget(self, job_id: str) -> None:
        """Stop polling a job and do not bring it back (removed from the list)."""
        self._ignored.add(job_id)
        self._active.discard(job_id)
        self._raw.pop(job_id, None)

    def follow_pipeline(self, recording_id: str) -> None:
        """Follow a recording's pipeline again (it was just re-queued)."""
        self._pipelines[recording_id] = time.time() + PIPELINE_GRACE_SECONDS

    @property
    def active_job_ids(self) -> frozenset[str]:
        return frozenset(self._active)

    @property
    def followed_pipelines(self) -> frozenset[str]:
        return frozenset(self._pipelines)

    @property
    def connected(self) -> bool | None:
        return self._connected

    # -- running ------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Poll every ``interval`` seconds on the running event loop until stopped."""
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self.run())
        return self._task

    async def pause(self) -> None:
        """Stop polling; ``start()`` resumes where it left off."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop(self) -> None:
        """Stop polling and close the client."""
        await self.pause()
        await self._client.aclose()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                result = await self.poll_once()
            except (RedisError, OSError) as exc:
                _raise_swallowed_cancel()
                failures += 1
                self._set_connected(False, exc)
                await asyncio.sleep(min(self.interval * 2**failures, 5.0))
                continue
            _raise_swallowed_cancel()
            failures = 0
            self._set_connected(True)
            self.polled.emit(result)
            # Jobs still unread come in the next cycle, after the window's turn.
            await asyncio.sleep(0 if self._unread else self.interval)

    # -- one cycle ----------------------------------------------------------------

    async def poll_once(self) -> PollResult:
        """One poll: what changed in the jobs and pipelines followed, and new jobs."""
        started = time.perf_counter()
        active = sorted(self._active)
        recordings = sorted(self._pipelines)
        newest = self._recent if self._loaded else self._history

        pipe = self._client.pipeline(transaction=False)
        pipe.mget([JOB_KEY_PREFIX + job_id for job_id in active] or ["-"])
        pipe.mget([PIPELINE_KEY_PREFIX + rid for rid in recordings] or ["-"])
        pipe.zrevrange(JOBS_INDEX_KEY, 0, newest - 1)
        pipe.llen(self._queue_name)
        job_values, pipeline_values, ids, waiting = await pipe.execute()

        result = PollResult(tasks_waiting=int(waiting))
        for job_id, raw in zip(active, job_values, strict=False):
            self._take_job(job_id, raw, result)
        for recording_id, raw in zip(recordings, pipeline_values, strict=False):
            self._take_pipeline(recording_id, raw, result)

        fresh = [i for i in (value.decode() for value in ids) if i not in self._known]
        self._known.update(fresh)
        self._unread[:0] = fresh
        batch = [i for i in self._unread[:LOAD_BATCH] if i not in self._ignored]
        del self._unread[:LOAD_BATCH]
        if batch:
            # The client returns bytes: it is made without decode_responses.
            values = cast(
                "list[bytes | None]",
                await self._client.mget([JOB_KEY_PREFIX + i for i in batch]),
            )
            for job_id, raw in zip(batch, values, strict=True):
                if raw is not None:
                    self._active.add(job_id)
                    self._take_job(job_id, raw, result)

        self._loaded = True
        result.seconds = time.perf_counter() - started
        return result

    def _take_job(self, job_id: str, raw: bytes | None, result: PollResult) -> None:
        if raw is None:
            # Expired or removed from the list on some workstation.
            self._active.discard(job_id)
            self._raw.pop(job_id, None)
            result.removed.append(job_id)
            return
        if self._raw.get(job_id) == raw:
            return
        job = _decode(raw, job_id)
        if job is None:
            return
        self._raw[job_id] = raw
        result.jobs.append(job)

        if job_text.is_terminal(job):
            # A finished extraction no longer changes; its pipeline still may.
            self._active.discard(job_id)
            self._raw.pop(job_id, None)
            if job.get("status") == "done" and job.get("recording_id"):
                self._pipelines[str(job["recording_id"])] = (
                    float(job.get("finished_at") or time.time())
                    + PIPELINE_GRACE_SECONDS
                )

    def _take_pipeline(
        self, recording_id: str, raw: bytes | None, result: PollResult
    ) -> None:
        if raw is None:
            if time.time() > self._pipelines.get(recording_id, 0.0):
                self._pipelines.pop(recording_id, None)
            return
        if self._pipeline_raw.get(recording_id) == raw:
            return
        status = _decode(raw, recording_id)
        if status is None:
            return
        self._pipeline_raw[recording_id] = raw
        result.pipelines[recording_id] = status
        if str(status.get("status", "")) in job_text.PIPELINE_TERMINAL:
            self._pipelines.pop(recording_id, None)
            self._pipeline_raw.pop(recording_id, None)

    def _set_connected(self, connected: bool, exc: BaseException | None = None) -> None:
        if connected == self._connected:
            return
        if connected:
            # The first answer is no recovery: only say "again" after a loss.
            again = " again" if self._connected is False else ""
            logger.info("Redis answers%s; job table is live", again)
        else:
            logger.warning("Redis unreachable, retrying: %s", exc)
        self._connected = connected
        self.connection_changed.emit(connected)


def _raise_swallowed_cancel() -> None:
    """Raise the cancel a Redis call may have swallowed, so that pause() returns.

    redis-py runs each command in ``asyncio.wait_for`` when a socket timeout is set.
    On Python 3.11 that returns the command's reply instead of raising when the task
    is cancelled just as the command completes (CPython gh-86296, fixed in 3.12): the
    task stays marked as cancelling but polls on, and whoever awaits it waits forever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _decode(raw: bytes, key: str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        logger.warning("Ignoring a malformed object in Redis for %s", key)
        return None
    return value if isinstance(value, dict) else None
