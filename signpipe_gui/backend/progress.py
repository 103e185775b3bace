"""Job objects in Redis: written by the backend, read by the window, the CLI and peers.

Each job is one JSON document at ``extraction:<job_id>``, indexed in the sorted set
``signpipe:jobs`` (score = created_at) so that readers list jobs newest first without
scanning keys. Every key written here expires; every write refreshes the TTL.

Writes are one Lua script each: merge the fields into the stored object, keep the
larger ``progress_percent``, SET with expiry and ZADD into the index, atomically. A
writer in another process (start-up recovery, the pipeline task) therefore never
loses fields written by this one, and percent never goes backwards.

A Redis that drops or restarts must not fail a running job. A write that cannot be
delivered is kept in memory (the latest state per job) and a background thread
re-sends it with backoff; until everything is delivered, later writes only update
that memory, so the extraction loop never waits on a dead server. ``flush()`` tries
to deliver what is pending right away and says whether anything is left.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .jobs import status_shape

logger = logging.getLogger(__name__)

JOB_KEY_PREFIX = "extraction:"
JOBS_INDEX_KEY = "signpipe:jobs"
CLAIM_KEY_PREFIX = "recording:claim:"

DEFAULT_TTL_SECONDS = 30 * 86400
# A claim outlives a crashed job only briefly; a running job refreshes its claim.
DEFAULT_CLAIM_TTL_SECONDS = 15 * 60

RETRY_DELAY_FIRST = 0.2
RETRY_DELAY_MAX = 5.0

# Errors after which the server may come back: refused or dropped connections,
# timeouts, a server still loading its data after a restart, a replica mid-failover.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    OSError,
)

# A progress write never fails a job: whatever Redis answers, the state is kept
# and sent again later (a full Redis, say, may have room again in a minute).
WRITE_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, OSError)

# KEYS: job key, index key. ARGV: mode ('set'|'update'), fields JSON, ttl seconds,
# job id, index score ('' = keep the stored created_at), oldest score to keep.
_WRITE_SCRIPT = """
local incoming = cjson.decode(ARGV[2])
local stored = redis.call('GET', KEYS[1])
local job = incoming
local before = nil
if stored then
  local old = cjson.decode(stored)
  before = tonumber(old['progress_percent'])
  if ARGV[1] == 'update' then
    for name, value in pairs(incoming) do old[name] = value end
    job = old
  end
end
local after = tonumber(job['progress_percent'])
if before and (not after or after < before) then
  job['progress_percent'] = before
end
redis.call('SET', KEYS[1], cjson.encode(job), 'EX', tonumber(ARGV[3]))
local score = ARGV[5]
if score == '' then score = tonumber(job['created_at']) end
if score then redis.call('ZADD', KEYS[2], score, ARGV[4]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[6])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
return job['progress_percent']
"""

# KEYS: claim key. ARGV: job id, ttl. Claiming again by the same job refreshes it.
_CLAIM_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
  return 1
end
if holder == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""

_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def job_key(job_id: str) -> str:
    return f"{JOB_KEY_PREFIX}{job_id}"


def claim_key(recording_id: str) -> str:
    return f"{CLAIM_KEY_PREFIX}{recording_id}"


@dataclass
class _Pending:
    """What is still to be written for one job: a whole object or merged fields."""

    mode: str
    fields: dict[str, Any]
    score: float | None = None
    attempts: int = 0

    def absorb(self, later: _Pending) -> None:
        """Fold a later write into this one; the later values win."""
        if later.mode == "set":
            self.mode = "set"
            self.fields = dict(later.fields)
        else:
            self.fields.update(later.fields)
        if later.score is not None:
            self.score = later.score


@dataclass
class _Outbox:
    """Undelivered writes, and whether the server is known to be away."""

    pending: dict[str, _Pending] = field(default_factory=dict)
    down: bool = False
    since: float = 0.0


class RedisProgressService:
    """Reads and writes job objects; survives a Redis that drops or restarts."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        claim_ttl_seconds: int = DEFAULT_CLAIM_TTL_SECONDS,
    ) -> None:
        self.client = client
        self.ttl_seconds = int(ttl_seconds)
        self.claim_ttl_seconds = int(claim_ttl_seconds)
        self._writer = _one_try_client(client)
        self._write_script = self._writer.register_script(_WRITE_SCRIPT)
        self._claim_script = self._writer.register_script(_CLAIM_SCRIPT)
        self._release_script = self._writer.register_script(_RELEASE_SCRIPT)

        self._outbox = _Outbox()
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._retry_thread: threading.Thread | None = None
        self._closed = False

    # -- writes -------------------------------------------------------------------

    def create_job(self, job: dict[str, Any]) -> None:
        """Store a new job object and add it to the index (newest first)."""
        job_id = str(job["job_id"])
        score = float(job.get("created_at") or time.time())
        self._write(job_id, _Pending("set", dict(job), score))

    def set_extraction_progress(self, job_id: str, progress: dict[str, Any]) -> None:
        """Replace the whole job object (percent still never goes backwards)."""
        score = progress.get("created_at")
        self._write(
            job_id,
            _Pending("set", dict(progress), float(score) if score else None),
        )

    def update_extraction_progress(self, job_id: str, /, **fields: Any) -> None:
        """Merge ``fields`` into the stored job object."""
        self._write(job_id, _Pending("update", dict(fields)))

    def remove_job(self, job_id: str) -> None:
        """Delete the job object and its index entry."""
        with self._lock:
            self._outbox.pending.pop(job_id, None)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(job_key(job_id))
        pipe.zrem(JOBS_INDEX_KEY, job_id)
        pipe.execute()

    def flush(self) -> bool:
        """Deliver every pending write now if Redis answers; True when none is left."""
        self._deliver_pending()
        with self._lock:
            return not self._outbox.pending

    @property
    def is_degraded(self) -> bool:
        """True while some write waits for Redis to come back."""
        with self._lock:
            return self._outbox.down

    def close(self) -> None:
        """Stop the retry thread and close the writer's connections."""
        self._closed = True
        self._wake.set()
        thread = self._retry_thread
        if thread is not None:
            thread.join(timeout=5)
        if self._writer is not self.client:
            # The writer's pool was made here, so it is closed here.
            self._writer.connection_pool.disconnect()

    # -- reads --------------------------------------------------------------------

    def get_extraction_progress(self, job_id: str) -> dict[str, Any] | None:
        """The raw job object, or None when there is none."""
        return _decode(self.client.get(job_key(job_id)))

    def get_status(self, job_id: str) -> dict[str, Any] | None:
        """The job in the original status endpoint's shape, or None."""
        job = self.get_extraction_progress(job_id)
        return status_shape(job) if job is not None else None

    def list_job_ids(self, limit: int = 200, offset: int = 0) -> list[str]:
        """Job ids, newest first."""
        if limit <= 0:
            return []
        ids = self.client.zrevrange(JOBS_INDEX_KEY, offset, offset + limit - 1)
        return [_text(job_id) for job_id in cast("list[bytes]", ids)]

    def get_jobs(self, job_ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """The job objects for ``job_ids`` in one MGET (None where one is gone)."""
        if not job_ids:
            return []
        raw = self.client.mget([job_key(job_id) for job_id in job_ids])
        return [_decode(value) for value in raw]

    def list_jobs(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest jobs' objects, newest first."""
        return [job for job in self.get_jobs(self.list_job_ids(limit)) if job]

    # -- recording claims ---------------------------------------------------------

    def claim_recording(self, recording_id: str, job_id: str) -> bool:
        """Claim ``recording_id`` for ``job_id``; False when another job holds it.

        SET NX on one server is what two workstations cannot both win. Claiming again
        with the same job id refreshes the claim's expiry.
        """
        won = self._claim_script(
            keys=[claim_key(recording_id)], args=[job_id, self.claim_ttl_seconds]
        )
        return bool(won)

    def release_recording(self, recording_id: str, job_id: str) -> None:
        """Drop the claim if ``job_id`` still holds it."""
        self._release_script(keys=[claim_key(recording_id)], args=[job_id])

    def recording_claim(self, recording_id: str) -> str | None:
        """The job id holding the claim on ``recording_id``, if any."""
        holder = self.client.get(claim_key(recording_id))
        return _text(holder) if holder is not None else None

    # -- delivery -----------------------------------------------------------------

    def _write(self, job_id: str, write: _Pending) -> None:
        with self._lock:
            if self._outbox.down:
                # Redis is away: remember only the latest state and return at once.
                self._remember(job_id, write)
                return

        try:
            self._send(job_id, write)
        except WRITE_ERRORS as exc:
            with self._lock:
                self._remember(job_id, write)
                self._mark_down(exc)

    def _send(self, job_id: str, write: _Pending) -> None:
        score = "" if write.score is None else repr(float(write.score))
        oldest = repr(time.time() - self.ttl_seconds)
        self._write_script(
            keys=[job_key(job_id), JOBS_INDEX_KEY],
            args=[
                write.mode,
                json.dumps(write.fields, default=str),
                self.ttl_seconds,
                job_id,
                score,
                oldest,
            ],
        )

    def _remember(self, job_id: str, write: _Pending) -> None:
        pending = self._outbox.pending.get(job_id)
        if pending is None:
            self._outbox.pending[job_id] = _Pending(
                write.mode, dict(write.fields), write.score
            )
        else:
            pending.absorb(write)

    def _mark_down(self, exc: BaseException) -> None:
        if not self._outbox.down:
            self._outbox.down = True
            self._outbox.since = time.monotonic()
            logger.warning(
                "Redis is unreachable, keeping job progress in memory until it "
                "returns: %s",
                exc,
            )
        self._start_retry_thread()

    def _start_retry_thread(self) -> None:
        if self._retry_thread is not None and self._retry_thread.is_alive():
            self._wake.set()
            return
        self._retry_thread = threading.Thread(
            target=self._retry_loop, name="signpipe-progress-retry", daemon=True
        )
        self._retry_thread.start()

    def _retry_loop(self) -> None:
        delay = RETRY_DELAY_FIRST
        while not self._closed:
            self._wake.wait(delay * random.uniform(0.8, 1.2))
            self._wake.clear()
            if self._closed:
                return
            if self._deliver_pending():
                return
            delay = min(delay * 2, RETRY_DELAY_MAX)

    def _deliver_pending(self) -> bool:
        """Try to send every pending write once; True when all went through."""
        with self._send_lock:
            with self._lock:
                job_ids = list(self._outbox.pending)
            for job_id in job_ids:
                with self._lock:
                    write = self._outbox.pending.pop(job_id, None)
                if write is None:
                    continue
                try:
                    self._send(job_id, write)
                except WRITE_ERRORS as exc:
                    with self._lock:
                        self._put_back(job_id, write)
                    logger.debug("Redis still unreachable: %s", exc)
                    return False

            with self._lock:
                if self._outbox.pending:
                    return False
                if self._outbox.down:
                    logger.info(
                        "Redis is back after %.1f s; job progress re-published",
                        time.monotonic() - self._outbox.since,
                    )
                self._outbox.down = False
                return True

    def _put_back(self, job_id: str, write: _Pending) -> None:
        # Writes that arrived while this one was in flight are newer: they win.
        newer = self._outbox.pending.get(job_id)
        write.attempts += 1
        if newer is not None:
            write.absorb(newer)
        self._outbox.pending[job_id] = write


def _one_try_client(client: redis.Redis) -> redis.Redis:
    """A client on the same server whose commands fail fast instead of retrying.

    redis-py's own Retry (up to 10 attempts with backoff on clients built from
    keyword arguments) would stall the extraction thread for seconds per write while
    Redis is away; this service does its own retrying in the background instead. One
    immediate retry stays, so a connection broken by a server restart reconnects.
    """
    pool = client.connection_pool
    kwargs = {
        name: value
        for name, value in pool.connection_kwargs.items()
        if name != "maint_notifications_pool_handler"
    }
    kwargs["retry"] = Retry(NoBackoff(), 1)
    try:
        own_pool = type(pool)(connection_class=pool.connection_class, **kwargs)
    except TypeError:
        logger.debug("Cannot copy the Redis pool; progress writes use the caller's")
        return client
    return redis.Redis(connection_pool=own_pool)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _decode(raw: bytes | str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        job = json.loads(raw)
    except ValueError:
        logger.warning("A job object in Redis is not valid JSON; ignoring it")
        return None
    return job if isinstance(job, dict) else None
