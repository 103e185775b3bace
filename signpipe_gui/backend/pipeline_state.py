"""A recording's pipeline status: status.json on disk, mirrored to Redis for display.

``status.json`` is the record that lasts; ``pipeline:<recording_id>`` holds the same
JSON, expiring, so a window on any workstation can show live progress without reading
the store. Writes are throttled to a few a second; status changes are written at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import redis

from .settings import Settings
from .status_file import StatusFileError, read_status, write_status

logger = logging.getLogger(__name__)

# Fields the task owns; a status dict from the pipeline never overrides them.
RUN_FIELDS = (
    "recording_id",
    "task_id",
    "worker",
    "attempt",
    "started_at",
    "heartbeat_at",
    "source",
)


# Seconds without mirror writes after one failed.
MIRROR_RETRY_AFTER = 10.0


def mirror_key(recording_id: str) -> str:
    return f"pipeline:{recording_id}"


def load_status(recording_dir: Path) -> dict[str, Any]:
    """The recording's status.json; an empty dict when it is missing or unreadable."""
    try:
        return read_status(recording_dir)
    except StatusFileError as exc:
        if (recording_dir / "status.json").exists():
            logger.warning("Ignoring status.json of %s: %s", recording_dir.name, exc)
        return {}


def publish_status(
    recording_dir: Path,
    status: dict[str, Any],
    client: redis.Redis | None,
    *,
    ttl_seconds: int,
) -> None:
    """Write status.json, then its Redis mirror (a Redis failure is only logged)."""
    status["updated_at"] = time.time()
    write_status(recording_dir, status)
    if client is not None:
        mirror_status(client, status, ttl_seconds=ttl_seconds)


def mirror_status(
    client: redis.Redis, status: dict[str, Any], *, ttl_seconds: int
) -> bool:
    """Copy a status to ``pipeline:<recording_id>``; False if Redis did not take it."""
    try:
        client.set(
            mirror_key(status["recording_id"]),
            json.dumps(status, default=str),
            ex=ttl_seconds,
        )
    except redis.RedisError as exc:
        logger.warning(
            "Pipeline status of %s not mirrored to Redis: %s",
            status.get("recording_id"),
            exc,
        )
        return False
    return True


def read_mirror(client: redis.Redis, recording_id: str) -> dict[str, Any] | None:
    """The mirrored status of a recording, or None."""
    raw = client.get(mirror_key(recording_id))
    if raw is None:
        return None
    data = json.loads(raw)
    return data if isinstance(data, dict) else None


class StatusRecorder:
    """The status of one run, written whole and at most every ``min_interval``."""

    def __init__(
        self,
        recording_dir: Path,
        status: dict[str, Any],
        client: redis.Redis | None,
        *,
        ttl_seconds: int,
        min_interval: float = 0.25,
    ) -> None:
        self.recording_dir = recording_dir
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.min_interval = min_interval
        self._status = dict(status)
        self._lock = threading.Lock()
        self._last_write = 0.0
        self._mirror_again_at = 0.0
        self.closed = False

    @property
    def status(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._status)

    def update(self, fields: dict[str, Any], *, force: bool = False) -> None:
        """Merge fields; write now if forced, the status changed, or it is time."""
        with self._lock:
            if self.closed:
                return
            changed = fields.get("status", self._status.get("status")) != (
                self._status.get("status")
            )
            self._status.update(fields)
            due = time.monotonic() - self._last_write >= self.min_interval
            if force or changed or due:
                self._write()

    def update_from_pipeline(self, pipeline_status: dict[str, Any]) -> None:
        """The pipeline's on_update: its fields, minus those the run owns."""
        fields = {k: v for k, v in pipeline_status.items() if k not in RUN_FIELDS}
        if fields.get("status") in ("done", "error", "cancelled"):
            # The task decides when the run has ended, after the pipeline returns.
            fields.pop("status")
        self.update(fields)

    def beat(self) -> None:
        """Stamp ``heartbeat_at`` and write, with any update the throttle held back."""
        self.update({"heartbeat_at": time.time()}, force=True)

    def finish(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Write the final status and stop taking updates; returns it."""
        with self._lock:
            self._status.update(fields)
            self._write(final=True)
            self.closed = True
            return dict(self._status)

    def close(self) -> None:
        """Stop writing without a final status (the run lost its lock)."""
        with self._lock:
            self.closed = True

    def _write(self, *, final: bool = False) -> None:
        self._status["updated_at"] = time.time()
        write_status(self.recording_dir, self._status)
        self._last_write = now = time.monotonic()

        # While Redis is away, each try could wait out a timeout inside the
        # pipeline's progress callback: after a failure, skip the mirror a while.
        if self.client is None or (now < self._mirror_again_at and not final):
            return
        if not mirror_status(self.client, self._status, ttl_seconds=self.ttl_seconds):
            self._mirror_again_at = now + MIRROR_RETRY_AFTER


def update_job(
    settings: Settings,
    client: redis.Redis,
    status: dict[str, Any],
    **fields: Any,
) -> None:
    """Copy pipeline fields into the job object that made the recording, if known."""
    source = status.get("source") or {}
    job_id = source.get("job_id") if isinstance(source, dict) else None
    if not job_id:
        return
    update_job_fields(settings, client, str(job_id), **fields)


def update_job_fields(
    settings: Settings, client: redis.Redis, job_id: str, **fields: Any
) -> None:
    """Merge fields into ``extraction:<job_id>``; a Redis failure is only logged."""
    from .progress import RedisProgressService, job_key

    try:
        if not client.exists(job_key(job_id)):
            # The job expired or was removed: do not make a stub of it.
            return
    except redis.RedisError as exc:
        logger.warning("Job %s not updated with %s: %s", job_id, fields, exc)
        return
    service = RedisProgressService(client, ttl_seconds=settings.job_ttl_seconds)
    try:
        service.update_extraction_progress(job_id, **fields)
    finally:
        service.close()
