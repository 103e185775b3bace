"""A job's claim on a recording id: what keeps two workstations from both storing it.

The claim is a ``SET NX`` in Redis (``recording:claim:<recording_id>``) that expires on
its own, so a crashed job cannot block a recording for long; a running job refreshes
it. Because it is the only guard between workstations, a job does not skip it while
Redis is away: it waits, cancellably and for a bounded time, for Redis to return.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis

from .errors import RECORDING_EXISTS_MESSAGE, ErrorCode, IngestError, JobCancelled
from .progress import TRANSIENT_ERRORS, RedisProgressService

logger = logging.getLogger(__name__)

REFRESH_SECONDS = 60.0


class RecordingClaim:
    """The claim one job holds (or tries to take) on one recording id."""

    def __init__(
        self,
        progress: RedisProgressService,
        job_id: str,
        *,
        cancel: threading.Event,
        patience: float,
    ) -> None:
        self.progress = progress
        self.job_id = job_id
        self.cancel = cancel
        self.patience = patience
        self.recording_id: str | None = None
        self._taken_at = 0.0

    def take(self, recording_id: str) -> None:
        """Claim ``recording_id``; IngestError(ALREADY_EXISTS) if another job has it."""
        if not self._claim_with_patience(recording_id):
            try:
                holder = self.progress.recording_claim(recording_id)
            except redis.RedisError:
                holder = None
            raise already_exists(recording_id, claimed_by=holder)
        self.recording_id = recording_id
        self._taken_at = time.monotonic()
        logger.info("Job %s claimed recording %s", self.job_id, recording_id)

    def refresh_if_due(self) -> None:
        """Renew the claim's expiry about once a minute, unless Redis is away."""
        if (
            self.recording_id is None
            or time.monotonic() - self._taken_at < REFRESH_SECONDS
            or self.progress.is_degraded
        ):
            return
        self._taken_at = time.monotonic()
        try:
            self.progress.claim_recording(self.recording_id, self.job_id)
        except redis.RedisError as exc:
            logger.warning("Job %s could not refresh its claim: %s", self.job_id, exc)

    def release(self) -> None:
        """Give the claim up, if held; a failure only means it expires on its own."""
        if self.recording_id is None:
            return
        try:
            self.progress.release_recording(self.recording_id, self.job_id)
        except redis.RedisError as exc:
            logger.warning(
                "Job %s could not release its claim on %s: %s",
                self.job_id,
                self.recording_id,
                exc,
            )
        self.recording_id = None

    def _claim_with_patience(self, recording_id: str) -> bool:
        deadline = time.monotonic() + self.patience
        delay = 0.2
        while True:
            try:
                return self.progress.claim_recording(recording_id, self.job_id)
            except redis.RedisError as exc:
                if not isinstance(exc, TRANSIENT_ERRORS):
                    raise IngestError(
                        ErrorCode.REDIS_UNAVAILABLE,
                        "Redis refused to reserve the recording id.",
                        recording_id=recording_id,
                        reason=str(exc),
                    ) from exc
                if time.monotonic() + delay > deadline:
                    raise IngestError(
                        ErrorCode.REDIS_UNAVAILABLE,
                        "Redis could not be reached to reserve the recording id.",
                        recording_id=recording_id,
                    ) from exc
                logger.warning(
                    "Job %s waits for Redis to claim recording %s: %s",
                    self.job_id,
                    recording_id,
                    exc,
                )
            if self.cancel.wait(delay):
                raise JobCancelled()
            delay = min(delay * 2, 5.0)


def already_exists(recording_id: str, **extra: Any) -> IngestError:
    """The "Recording already exists." error, naming the recording (and claimant)."""
    return IngestError(
        ErrorCode.ALREADY_EXISTS,
        RECORDING_EXISTS_MESSAGE,
        recording_id=recording_id,
        **{name: value for name, value in extra.items() if value is not None},
    )
