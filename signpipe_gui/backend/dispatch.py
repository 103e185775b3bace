"""Sending a recording to the pipeline: bounded in time, remembered when it fails.

``dispatch_pipeline`` is what an extraction calls when its recording is whole. It
checks that the broker answers, writes the task id into status.json *before* sending
(the task starts within milliseconds and must find its own id there), sends with a
deadline, and on failure leaves the recording done, status.json ``not_queued`` with
the reason, and the recording in the outbox that :func:`redrive_outbox` empties.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from kombu.exceptions import KombuError
from redis.backoff import NoBackoff
from redis.retry import Retry

from . import outbox
from .celery_app import RUN_PIPELINE_TASK, SignpipeCelery, app_for
from .connection import describe, redis_url
from .pipeline_lock import lock_holder
from .pipeline_state import (
    load_status,
    mirror_status,
    publish_status,
    update_job_fields,
)
from .recording_id import is_valid_recording_id
from .redis_server import RedisServerError
from .settings import Settings

logger = logging.getLogger(__name__)

# The broker must answer a PING within this, or dispatch gives up at once.
PING_TIMEOUT = 1.0
# The publish itself (with Celery's own retries) must end within this.
PUBLISH_DEADLINE = 3.0


@dataclass(frozen=True)
class DispatchResult:
    """What became of a dispatch: the task id when queued, else the reason."""

    task_id: str | None
    queued: bool
    reason: str | None


class DispatchError(Exception):
    """The task could not be handed to the broker."""


def dispatch_pipeline(
    settings: Settings,
    recording_id: str,
    job_id: str | None = None,
    *,
    previous_attempts: int = 0,
) -> DispatchResult:
    """Queue the pipeline for a stored recording; never blocks for long.

    ``previous_attempts`` carries the count of runs that died, when a lost run is
    sent again, so that the bound on attempts holds across dispatches.
    """
    if not is_valid_recording_id(recording_id, settings.recording_id_pattern):
        return DispatchResult(
            None, False, f"{recording_id!r} is not a valid recording id."
        )
    recording_dir = settings.store_path / recording_id
    if not recording_dir.is_dir():
        return DispatchResult(
            None, False, f"Recording {recording_id} is not in the store."
        )

    status = load_status(recording_dir)
    job_id = job_id or _source_job_id(status)
    task_id = uuid.uuid4().hex
    queued = _queued_status(status, recording_id, task_id, previous_attempts)
    publish_status(recording_dir, queued, None, ttl_seconds=settings.job_ttl_seconds)

    client: redis.Redis | None = None
    try:
        try:
            client = quick_client(settings)
            client.ping()
            mirror_status(client, queued, ttl_seconds=settings.job_ttl_seconds)
            _send(app_for(settings), recording_id, task_id)
        except (
            redis.RedisError,
            KombuError,
            DispatchError,
            RedisServerError,
            OSError,
        ) as exc:
            reason = (
                f"The pipeline could not be queued because Redis ({describe(settings)})"
                " did not answer; it will be queued when Redis is back."
            )
            logger.warning(
                "Pipeline of %s not queued, kept in the outbox: %s", recording_id, exc
            )
            _record_not_queued(
                settings, recording_dir, queued, client, job_id, reason, exc
            )
            return DispatchResult(None, False, reason)
        except Exception as exc:
            # Not the broker being away: a broken install or a bug. status.json
            # must not stay "queued" for a task that was never sent, and the outbox
            # keeps the recording so that a fixed worker or restart still runs it.
            reason = (
                "The pipeline could not be queued because of an internal error "
                f"({type(exc).__name__}); see signpipe's log. It will be tried again."
            )
            logger.exception(
                "Pipeline of %s not queued, kept in the outbox", recording_id
            )
            _record_not_queued(
                settings,
                recording_dir,
                queued,
                client,
                job_id,
                reason,
                exc,
                code="dispatch_failed",
            )
            return DispatchResult(None, False, reason)

        logger.info("Pipeline of %s queued as task %s", recording_id, task_id)
        _after_queued(settings, client, recording_id, job_id, task_id)
        return DispatchResult(task_id, True, None)
    finally:
        if client is not None:
            client.close()


def rerun_pipeline(settings: Settings, recording_id: str) -> DispatchResult:
    """Queue the pipeline again on a stored recording; its results are replaced."""
    try:
        client = quick_client(settings)
        try:
            holder = lock_holder(client, recording_id)
        finally:
            client.close()
    except redis.RedisError:
        holder = None  # dispatch_pipeline says what is wrong and keeps it for later
    if holder is not None:
        return DispatchResult(
            None, False, f"The pipeline is already running on recording {recording_id}."
        )
    return dispatch_pipeline(settings, recording_id)


def _queued_status(
    status: dict[str, Any], recording_id: str, task_id: str, attempts: int
) -> dict[str, Any]:
    now = time.time()
    return {
        **status,
        "recording_id": recording_id,
        "status": "queued",
        "stage": None,
        "progress_percent": 0,
        "task_id": task_id,
        "attempt": attempts,
        "created_at": status.get("created_at") or now,
        "queued_at": now,
        "started_at": None,
        "finished_at": None,
        "heartbeat_at": None,
        "error_msg": None,
        "error_details": None,
    }


def _send(app: SignpipeCelery, recording_id: str, task_id: str) -> None:
    """Publish the task, giving up after PUBLISH_DEADLINE whatever the client does."""
    task = app.tasks[RUN_PIPELINE_TASK]
    future = app.publisher().submit(task.apply_async, (recording_id,), task_id=task_id)
    try:
        future.result(timeout=PUBLISH_DEADLINE)
    except concurrent.futures.TimeoutError as exc:
        # If it still goes out later, the task finds its id in status.json and runs;
        # the re-drive then finds the recording no longer not_queued and leaves it.
        future.cancel()
        raise DispatchError(f"publishing took over {PUBLISH_DEADLINE:.0f} s") from exc


def quick_client(settings: Settings) -> redis.Redis:
    """A client that fails within about a second and does not retry on its own."""
    timeout = min(PING_TIMEOUT, settings.redis_connect_timeout)
    return redis.Redis.from_url(
        redis_url(settings),
        socket_timeout=max(timeout, 1.0),
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _record_not_queued(
    settings: Settings,
    recording_dir: Any,
    queued: dict[str, Any],
    client: redis.Redis | None,
    job_id: str | None,
    reason: str,
    exc: BaseException,
    *,
    code: str = "redis_unavailable",
) -> None:
    not_queued = {
        **queued,
        "status": "not_queued",
        "error_msg": reason,
        "error_details": {"code": code, "error": str(exc)},
    }
    publish_status(
        recording_dir, not_queued, None, ttl_seconds=settings.job_ttl_seconds
    )
    outbox.add(
        settings, recording_dir.name, job_id=job_id, reason=reason, client=client
    )
    if job_id and client is not None:
        update_job_fields(settings, client, job_id, pipeline_status="not_queued")


def _after_queued(
    settings: Settings,
    client: redis.Redis,
    recording_id: str,
    job_id: str | None,
    task_id: str,
) -> None:
    try:
        outbox.discard(settings, recording_id, client)
        if job_id:
            update_job_fields(
                settings,
                client,
                job_id,
                pipeline_task_id=task_id,
                pipeline_status="queued",
            )
    except redis.RedisError as exc:
        logger.warning("Job %s not told of task %s: %s", job_id, task_id, exc)


def _source_job_id(status: dict[str, Any]) -> str | None:
    source = status.get("source")
    if isinstance(source, dict) and source.get("job_id"):
        return str(source["job_id"])
    return None


# -- the outbox re-drive ----------------------------------------------------------

# While one process re-sends a recording, others leave it alone for this long.
REDRIVE_CLAIM_SECONDS = 30


def redrive_outbox(settings: Settings) -> int:
    """Send again every recording in the outbox; returns how many were queued."""
    try:
        client = quick_client(settings)
        client.ping()
    except (redis.RedisError, OSError) as exc:
        logger.debug("Outbox not re-driven, Redis does not answer: %s", exc)
        return 0

    queued = 0
    try:
        for recording_id in outbox.pending(settings, client):
            claim = f"signpipe:outbox:claim:{recording_id}"
            if not client.set(claim, "1", nx=True, ex=REDRIVE_CLAIM_SECONDS):
                continue
            if not _still_waiting(settings, recording_id, client):
                continue
            entry = outbox.read_entry(settings, recording_id) or {}
            result = dispatch_pipeline(settings, recording_id, entry.get("job_id"))
            if not result.queued:
                break  # the broker went away again; the next pass tries
            queued += 1
    except redis.RedisError as exc:
        logger.warning("Outbox re-drive stopped: %s", exc)
    finally:
        client.close()
    if queued:
        logger.info("Outbox re-driven, recordings=%s queued", queued)
    return queued


def _still_waiting(settings: Settings, recording_id: str, client: redis.Redis) -> bool:
    """True if the recording is there and its pipeline is still not queued."""
    recording_dir = settings.store_path / recording_id
    if not recording_dir.is_dir():
        logger.info("Outbox entry %s dropped: recording not in the store", recording_id)
        outbox.discard(settings, recording_id, client)
        return False
    state = load_status(recording_dir).get("status")
    if state not in (None, "not_queued"):
        # Queued or run since (by a late publish, a re-run or another workstation).
        outbox.discard(settings, recording_id, client)
        return False
    return True


class OutboxRedriver:
    """A background thread that empties the outbox whenever the broker answers.

    It also looks for runs left ``running`` by a worker that died, so they do not
    wait for the visibility timeout: at start, every ``recovery_interval`` seconds,
    and soon after the moment a run it saw running would be stale if it had died.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        interval: float = 5.0,
        recovery_interval: float = 300.0,
    ) -> None:
        self.settings = settings
        self.interval = interval
        self.recovery_interval = recovery_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Re-drive now, then every ``interval`` seconds while there is anything."""
        self._thread = threading.Thread(
            target=self._run, name="signpipe-outbox", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Look now (call it when the connection to Redis came back)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        from .recovery import recover_stale_runs

        next_recovery = time.monotonic()
        while not self._stop.is_set():
            try:
                if outbox.pending(self.settings):
                    redrive_outbox(self.settings)
                if time.monotonic() >= next_recovery:
                    found = recover_stale_runs(self.settings)
                    next_recovery = self._next_recovery(found.next_stale_at)
            except Exception:
                logger.exception("Outbox re-drive failed; trying again later")
            self._wake.wait(self.interval)
            self._wake.clear()

    def _next_recovery(self, next_stale_at: float | None) -> float:
        """The monotonic time of the next look for dead runs."""
        later = self.recovery_interval
        if next_stale_at is not None:
            # A second past the moment, so the run is stale by the time we look.
            later = min(later, max(self.interval, next_stale_at - time.time() + 1))
        return time.monotonic() + later
