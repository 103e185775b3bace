"""Runs left ``running`` by a worker that died, found and sent again.

Celery gives a dead worker's message back only after the visibility timeout (hours,
so that long runs are not given twice). A run whose heartbeat stopped and whose lock
expired is known dead much sooner: this sends its recording again (counting the
attempt), or ends it as ``error`` once it has died ``pipeline_max_attempts`` times.
The old message, when it does come back, finds a newer task in status.json and does
nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import redis

from .dispatch import dispatch_pipeline, quick_client
from .pipeline_lock import PipelineTiming, lock_holder
from .pipeline_runner import give_up
from .pipeline_state import load_status
from .recording_id import is_valid_recording_id
from .settings import Settings
from .store import RecordingStore

logger = logging.getLogger(__name__)

# While one process recovers a recording, others leave it alone for this long.
RECOVERY_CLAIM_SECONDS = 60


@dataclass(frozen=True)
class RecoveryPass:
    """What one look for dead runs did, and when the next look is worth making."""

    sent: int
    # The wall-clock time at which the earliest run still running would be stale,
    # were its heartbeat to stop now; None when nothing runs.
    next_stale_at: float | None = None


def recover_stale_runs(
    settings: Settings, *, timing: PipelineTiming | None = None
) -> RecoveryPass:
    """Send again every recording whose run died."""
    timing = timing or PipelineTiming.from_settings(settings)
    try:
        client = quick_client(settings)
        client.ping()
    except (redis.RedisError, OSError) as exc:
        logger.debug("Stale runs not looked for, Redis does not answer: %s", exc)
        return RecoveryPass(0)

    recovered = 0
    next_stale_at: float | None = None
    try:
        for recording_id in RecordingStore(settings.store_path).recording_ids():
            if not is_valid_recording_id(recording_id, settings.recording_id_pattern):
                continue
            recording_dir = settings.store_path / recording_id
            status = load_status(recording_dir)
            if status.get("status") != "running":
                continue
            stale_at = _stale_at(status, timing)
            if time.time() > stale_at and lock_holder(client, recording_id):
                # Alive but slow to write: were it to die, its lock lapses first.
                stale_at = time.time() + timing.stale_after
            if time.time() <= stale_at:
                next_stale_at = min(next_stale_at or stale_at, stale_at)
                continue
            claim = f"pipeline:recover:{recording_id}"
            if not client.set(claim, "1", nx=True, ex=RECOVERY_CLAIM_SECONDS):
                continue

            attempts = int(status.get("attempt") or 0)
            if attempts >= settings.pipeline_max_attempts:
                give_up(settings, recording_dir, status, client)
                continue
            logger.warning(
                "Pipeline of %s was left running by a lost worker (task %s); "
                "sending it again attempts=%s",
                recording_id,
                status.get("task_id"),
                attempts,
            )
            result = dispatch_pipeline(
                settings, recording_id, previous_attempts=attempts
            )
            if not result.queued:
                break
            recovered += 1
    except redis.RedisError as exc:
        logger.warning("Looking for stale runs stopped: %s", exc)
    finally:
        client.close()
    return RecoveryPass(recovered, next_stale_at)


def _stale_at(status: dict[str, Any], timing: PipelineTiming) -> float:
    """When a running status's heartbeat is well past the point a live run beats."""
    heartbeat = float(status.get("heartbeat_at") or status.get("updated_at") or 0)
    # Twice the limit: a run that is merely slow to write must not be sent twice.
    return heartbeat + 2 * timing.stale_after
