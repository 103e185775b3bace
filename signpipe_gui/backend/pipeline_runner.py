"""One pipeline run for a task: re-check the world, take the lock, run, record.

The Celery task is a thin wrapper around :func:`run_recording`. Everything a queue
message says is checked again here, because a message may be old, sent twice, or
delivered again after its worker died.
"""

from __future__ import annotations

import enum
import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from .pipeline import run_pipeline
from .pipeline_lock import Heartbeat, PipelineLock, PipelineTiming
from .pipeline_state import (
    RUN_FIELDS,
    StatusRecorder,
    load_status,
    mirror_status,
    update_job,
)
from .recording_id import is_valid_recording_id
from .settings import Settings

logger = logging.getLogger(__name__)


class PipelineInputError(Exception):
    """The message names no recording this worker can run: one sentence for people."""


class PipelineFailed(Exception):
    """The run ended in ``error``; status.json holds the sentence and the details."""


class RunLater(Exception):
    """An earlier delivery of this same task may still be running; try again later."""

    def __init__(self, countdown: float) -> None:
        super().__init__(f"retry in {countdown:.0f} s")
        self.countdown = countdown


class Outcome(enum.StrEnum):
    """How a delivery of the task ended."""

    DONE = "done"
    SKIPPED = "skipped"
    GAVE_UP = "gave_up"


@dataclass(frozen=True)
class RunResult:
    """What the task returns (JSON-friendly through :meth:`as_dict`)."""

    recording_id: str
    outcome: Outcome
    reason: str | None = None
    attempt: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recording_id": self.recording_id,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "attempt": self.attempt,
        }


def check_recording(settings: Settings, recording_id: object) -> Path:
    """The recording's folder in this worker's store; PipelineInputError if none."""
    if not isinstance(recording_id, str) or not is_valid_recording_id(
        recording_id, settings.recording_id_pattern
    ):
        shown = repr(recording_id)[:80]
        raise PipelineInputError(f"{shown} is not a valid recording id.")
    recording_dir = settings.store_path / recording_id
    if not recording_dir.is_dir():
        raise PipelineInputError(
            f"Recording {recording_id} is not in the store at {settings.store_path}."
        )
    return recording_dir


def run_recording(
    settings: Settings,
    recording_id: str,
    *,
    task_id: str,
    client: redis.Redis,
    worker: str | None = None,
    timing: PipelineTiming | None = None,
) -> RunResult:
    """Run the pipeline on a recording for task ``task_id``, once, under its lock."""
    timing = timing or PipelineTiming.from_settings(settings)
    try:
        recording_dir = check_recording(settings, recording_id)
    except PipelineInputError as exc:
        _record_missing(settings, client, recording_id, task_id, str(exc))
        raise

    lock = PipelineLock(client, recording_id, task_id, timing.lock_ttl)
    if not lock.acquire():
        return _lock_busy(lock, recording_id, timing)

    try:
        status = load_status(recording_dir)
        decision = _decide(status, task_id, timing, settings.pipeline_max_attempts)
        if decision is not None:
            return _settle(decision, recording_dir, status, settings, client)

        attempt = int(status.get("attempt") or 0) + 1
        return _run(
            settings,
            recording_dir,
            status,
            task_id,
            attempt,
            lock,
            client,
            worker,
            timing,
        )
    finally:
        try:
            lock.release()
        except redis.RedisError as exc:
            logger.warning(
                "Lock of %s not released (it expires): %s", recording_id, exc
            )


def _lock_busy(
    lock: PipelineLock, recording_id: str, timing: PipelineTiming
) -> RunResult:
    holder = lock.holder()
    if holder == lock.owner:
        # An earlier delivery of this task holds it: alive and still running, or
        # dead with a lock that has not expired yet. Look again once it could have.
        raise RunLater(timing.lock_ttl + 1)
    logger.info(
        "Pipeline of %s already runs under task %s; this delivery does nothing",
        recording_id,
        holder,
    )
    return RunResult(recording_id, Outcome.SKIPPED, f"running under task {holder}")


@dataclass(frozen=True)
class _Decision:
    outcome: Outcome
    reason: str
    countdown: float | None = None


def _decide(
    status: dict[str, Any], task_id: str, timing: PipelineTiming, max_attempts: int
) -> _Decision | None:
    """None to run now; otherwise why this delivery must not run."""
    state = status.get("status")
    owner = status.get("task_id")
    if owner and owner != task_id:
        # A newer dispatch (a re-run, a re-drive) owns the recording now.
        return _Decision(Outcome.SKIPPED, f"superseded by task {owner}")
    if owner == task_id and state in ("done", "error", "cancelled"):
        return _Decision(Outcome.SKIPPED, f"this task already ended {state}")
    if state == "running":
        heartbeat = float(status.get("heartbeat_at") or status.get("updated_at") or 0)
        age = time.time() - heartbeat
        if age < timing.stale_after:
            wait = timing.stale_after - age + 1
            return _Decision(Outcome.SKIPPED, "heartbeat still fresh", wait)
        attempts = int(status.get("attempt") or 0)
        if attempts >= max_attempts:
            return _Decision(Outcome.GAVE_UP, f"stopped {attempts} times")
    return None


def _settle(
    decision: _Decision,
    recording_dir: Path,
    status: dict[str, Any],
    settings: Settings,
    client: redis.Redis,
) -> RunResult:
    recording_id = recording_dir.name
    if decision.countdown is not None:
        raise RunLater(max(1.0, decision.countdown))
    if decision.outcome is Outcome.GAVE_UP:
        return give_up(settings, recording_dir, status, client)
    logger.info("Pipeline of %s not run: %s", recording_id, decision.reason)
    return RunResult(recording_id, decision.outcome, decision.reason)


def give_up(
    settings: Settings,
    recording_dir: Path,
    status: dict[str, Any],
    client: redis.Redis | None,
) -> RunResult:
    """End a recording whose runs kept dying as ``error``, instead of a new attempt."""
    attempts = int(status.get("attempt") or 0)
    message = (
        f"The pipeline stopped {attempts} times without finishing "
        "(its worker was lost), so it was not started again."
    )
    recorder = StatusRecorder(
        recording_dir, status, client, ttl_seconds=settings.job_ttl_seconds
    )
    recorder.finish(
        {
            "status": "error",
            "finished_at": time.time(),
            "error_msg": message,
            "error_details": {"code": "worker_lost", "attempts": attempts},
        }
    )
    if client is not None:
        update_job(settings, client, status, pipeline_status="error")
    logger.error(
        "Pipeline of %s given up after attempts=%s", recording_dir.name, attempts
    )
    return RunResult(recording_dir.name, Outcome.GAVE_UP, message, attempts)


def _run(
    settings: Settings,
    recording_dir: Path,
    status: dict[str, Any],
    task_id: str,
    attempt: int,
    lock: PipelineLock,
    client: redis.Redis,
    worker: str | None,
    timing: PipelineTiming,
) -> RunResult:
    recording_id = recording_dir.name
    now = time.time()
    recorder = StatusRecorder(
        recording_dir,
        {
            **status,
            "recording_id": recording_id,
            "status": "running",
            "stage": None,
            "progress_percent": 0,
            "task_id": task_id,
            "worker": worker or socket.gethostname(),
            "attempt": attempt,
            "created_at": status.get("created_at") or now,
            "started_at": now,
            "finished_at": None,
            "heartbeat_at": now,
            "error_msg": None,
            "error_details": None,
        },
        client,
        ttl_seconds=settings.job_ttl_seconds,
        min_interval=timing.update_interval,
    )
    recorder.update({}, force=True)
    _discard_from_outbox(settings, recording_id, client)
    update_job(settings, client, status, pipeline_status="running")
    logger.info("Pipeline of %s started attempt=%s", recording_id, attempt)

    cancel = threading.Event()
    heartbeat = Heartbeat(
        lock, timing.heartbeat_interval, on_beat=recorder.beat, on_lost=cancel.set
    )
    started = time.monotonic()
    try:
        with heartbeat:
            # run_pipeline records its own errors and cancellation in the status it
            # returns; an exception here comes from around it (status writes, limits).
            final = run_pipeline(
                recording_dir,
                settings,
                on_update=recorder.update_from_pipeline,
                cancel=cancel,
            )
    except Exception as exc:
        final = _unexpected(exc, settings)
        logger.exception("Pipeline of %s failed unexpectedly", recording_id)

    if heartbeat.lost:
        # Another delivery owns the recording now; its status is the one to keep.
        recorder.close()
        return RunResult(recording_id, Outcome.SKIPPED, "lost its lock", attempt)

    fields = {k: v for k, v in final.items() if k not in RUN_FIELDS}
    fields.setdefault("status", "done")
    fields["finished_at"] = fields["heartbeat_at"] = time.time()
    if fields["status"] == "error" and _over_time_limit(started, settings):
        fields.update(_time_limit_error(settings))
    recorder.finish(fields)
    update_job(settings, client, status, pipeline_status=fields["status"])
    logger.info(
        "Pipeline of %s ended %s attempt=%s seconds=%.1f",
        recording_id,
        fields["status"],
        attempt,
        time.monotonic() - started,
    )
    if fields["status"] == "error":
        raise PipelineFailed(str(fields.get("error_msg") or "The pipeline failed."))
    if fields["status"] == "cancelled":
        return RunResult(recording_id, Outcome.SKIPPED, "cancelled", attempt)
    return RunResult(recording_id, Outcome.DONE, None, attempt)


def _unexpected(exc: Exception, settings: Settings) -> dict[str, Any]:
    from celery.exceptions import SoftTimeLimitExceeded

    if isinstance(exc, SoftTimeLimitExceeded):
        return {"status": "error", **_time_limit_error(settings)}
    return {
        "status": "error",
        "error_msg": f"The pipeline failed unexpectedly ({type(exc).__name__}).",
        "error_details": {"code": "internal", "error": str(exc)},
    }


def _over_time_limit(started: float, settings: Settings) -> bool:
    return time.monotonic() - started >= settings.pipeline_time_limit


def _time_limit_error(settings: Settings) -> dict[str, Any]:
    limit = settings.pipeline_time_limit
    return {
        "error_msg": f"The pipeline ran longer than its time limit of {limit} seconds.",
        "error_details": {"code": "time_limit", "limit": limit},
    }


def _record_missing(
    settings: Settings,
    client: redis.Redis,
    recording_id: object,
    task_id: str,
    message: str,
) -> None:
    """Say why in the Redis mirror when the id is valid but its folder is not there."""
    if not isinstance(recording_id, str) or not is_valid_recording_id(
        recording_id, settings.recording_id_pattern
    ):
        return
    now = time.time()
    mirror_status(
        client,
        {
            "recording_id": recording_id,
            "status": "error",
            "task_id": task_id,
            "updated_at": now,
            "finished_at": now,
            "error_msg": message,
            "error_details": {"code": "not_found", "store": str(settings.store_path)},
        },
        ttl_seconds=settings.job_ttl_seconds,
    )


def _discard_from_outbox(
    settings: Settings, recording_id: str, client: redis.Redis
) -> None:
    from .outbox import discard

    discard(settings, recording_id, client)
