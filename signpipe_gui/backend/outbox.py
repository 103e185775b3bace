"""Recordings whose pipeline could not be queued, kept until the broker is back.

Dispatch fails mostly because Redis is down, so the outbox that matters is a folder
in the store, ``<store>/.signpipe/outbox/<recording_id>`` (one small JSON file each);
the ``signpipe:outbox`` sorted set in Redis mirrors it when Redis answers, so any
workstation can see what waits. Re-driving sends each one again.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import redis

from .recording_id import is_valid_recording_id
from .settings import Settings
from .store import WORK_DIR_NAME

logger = logging.getLogger(__name__)

OUTBOX_KEY = "signpipe:outbox"


def outbox_dir(settings: Settings) -> Path:
    return settings.store_path / WORK_DIR_NAME / "outbox"


def add(
    settings: Settings,
    recording_id: str,
    *,
    job_id: str | None,
    reason: str,
    client: redis.Redis | None = None,
) -> None:
    """Remember that the recording's pipeline must be sent again."""
    folder = outbox_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    entry = read_entry(settings, recording_id) or {
        "recording_id": recording_id,
        "first_failed_at": time.time(),
    }
    entry.update(job_id=job_id or entry.get("job_id"), reason=reason)
    _write_json(folder / recording_id, entry)

    if client is not None:
        try:
            client.zadd(OUTBOX_KEY, {recording_id: entry["first_failed_at"]}, nx=True)
        except redis.RedisError:
            # Expected while Redis is what is down; the file is the record.
            pass


def discard(
    settings: Settings, recording_id: str, client: redis.Redis | None = None
) -> None:
    """Forget the recording: its pipeline was queued (or is no longer wanted)."""
    (outbox_dir(settings) / recording_id).unlink(missing_ok=True)
    if client is not None:
        try:
            client.zrem(OUTBOX_KEY, recording_id)
        except redis.RedisError as exc:
            logger.debug("Outbox entry %s left in Redis: %s", recording_id, exc)


def read_entry(settings: Settings, recording_id: str) -> dict[str, Any] | None:
    """The outbox entry of a recording, or None."""
    try:
        data = json.loads((outbox_dir(settings) / recording_id).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pending(settings: Settings, client: redis.Redis | None = None) -> list[str]:
    """Recording ids waiting in the outbox (files and Redis), oldest first."""
    scores: dict[str, float] = {}
    folder = outbox_dir(settings)
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.startswith("."):
                continue
            entry = read_entry(settings, path.name) or {}
            scores[path.name] = float(entry.get("first_failed_at") or 0)
    if client is not None:
        try:
            entries = client.zrange(OUTBOX_KEY, 0, -1, withscores=True)
            for member, score in cast(list[tuple[bytes, float]], entries):
                name = member.decode() if isinstance(member, bytes) else str(member)
                scores.setdefault(name, float(score))
        except redis.RedisError as exc:
            logger.debug("Outbox in Redis not read: %s", exc)
    valid = [
        name
        for name in scores
        if is_valid_recording_id(name, settings.recording_id_pattern)
    ]
    return sorted(valid, key=lambda name: (scores[name], name))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".outbox.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
