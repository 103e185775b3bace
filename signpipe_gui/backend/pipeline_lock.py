"""The per-recording pipeline lock in Redis, and the heartbeat that keeps it alive.

A run holds ``pipeline:lock:<recording_id>`` with a token naming its task. The lock
expires unless the heartbeat renews it, so a worker that dies leaves a lock that is
gone a few seconds later and a ``status.json`` whose heartbeat stops: that pair is how
the next delivery of the task knows the run before it is dead.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis

from .settings import Settings

logger = logging.getLogger(__name__)

# Compare-and-act scripts, so a run never extends or deletes a lock it lost.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class PipelineTiming:
    """How long a lock lives, how often the heartbeat beats, when a run is stale."""

    lock_ttl: float
    heartbeat_interval: float
    update_interval: float = 0.25

    @property
    def stale_after(self) -> float:
        """A running status whose heartbeat is older than this belongs to a dead run."""
        return self.lock_ttl

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineTiming:
        """Timing derived from the visibility timeout.

        A message comes back after the visibility timeout; the lock of its dead run
        must have expired by then, so the lock lives at most half of it.
        """
        lock_ttl = min(30.0, max(2.0, settings.visibility_timeout / 2))
        return cls(lock_ttl=lock_ttl, heartbeat_interval=lock_ttl / 5)


def lock_key(recording_id: str) -> str:
    return f"pipeline:lock:{recording_id}"


class PipelineLock:
    """``pipeline:lock:<recording_id>``, held by one task at a time."""

    def __init__(
        self, client: redis.Redis, recording_id: str, owner: str, ttl: float
    ) -> None:
        self.client = client
        self.key = lock_key(recording_id)
        self.owner = owner
        self.token = f"{owner}:{uuid.uuid4().hex}"
        self.ttl_ms = max(1, int(ttl * 1000))

    def acquire(self) -> bool:
        """Take the lock if nobody holds it."""
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def renew(self) -> bool:
        """Push the expiry out again; False when the lock is no longer ours."""
        return bool(self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))

    def release(self) -> None:
        """Give the lock up, if it is still ours."""
        self.client.eval(_RELEASE, 1, self.key, self.token)

    def holder(self) -> str | None:
        """The task id of whoever holds the lock now, or None."""
        return lock_holder(self.client, self.key.removeprefix("pipeline:lock:"))


def lock_holder(client: redis.Redis, recording_id: str) -> str | None:
    """The task id holding a recording's pipeline lock, or None when it is free."""
    value = client.get(lock_key(recording_id))
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    return text.rsplit(":", 1)[0]


class Heartbeat:
    """A thread that beats every few seconds: renews the lock, stamps the status."""

    def __init__(
        self,
        lock: PipelineLock,
        interval: float,
        *,
        on_beat: Callable[[], None],
        on_lost: Callable[[], None],
    ) -> None:
        self.lock = lock
        self.interval = interval
        self.on_beat = on_beat
        self.on_lost = on_lost
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat {lock.key}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat()
            if self.lost:
                return

    def _beat(self) -> None:
        try:
            self.on_beat()
        except Exception:
            logger.exception(
                "Heartbeat could not stamp the status of %s", self.lock.key
            )
        try:
            still_ours = self.lock.renew()
        except redis.RedisError as exc:
            # Redis may come back before the lock expires; the run goes on.
            logger.warning("Heartbeat could not renew %s: %s", self.lock.key, exc)
            return
        if not still_ours:
            logger.error(
                "Run lost its lock %s (owner=%s); stopping it",
                self.lock.key,
                self.lock.owner,
            )
            self.lost = True
            self.on_lost()
