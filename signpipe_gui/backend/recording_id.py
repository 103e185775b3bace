"""Recording ids: the vehicle logger's folder names, checked against a pattern."""

from __future__ import annotations

import datetime as dt
import functools
import re

from .settings import DEFAULT_RECORDING_ID_PATTERN

_TIME_GROUPS = ("year", "month", "day", "hour", "minute", "second")


@functools.lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def recording_time(
    name: str, pattern: str = DEFAULT_RECORDING_ID_PATTERN
) -> dt.datetime | None:
    """The start time encoded in a recording id, or None when it has none."""
    match = _compiled(pattern).fullmatch(name)
    if match is None:
        return None
    groups = match.groupdict()
    if not all(groups.get(g) for g in _TIME_GROUPS):
        return None
    try:
        year, month, day, hour, minute, second = (int(groups[g]) for g in _TIME_GROUPS)
        millisecond = int(groups.get("ms") or 0)
        return dt.datetime(
            year, month, day, hour, minute, second, microsecond=millisecond * 1000
        )
    except ValueError:
        return None


def is_valid_recording_id(
    name: str, pattern: str = DEFAULT_RECORDING_ID_PATTERN
) -> bool:
    """True when ``name`` matches the pattern and, if it names a time, a real one."""
    if not name or name in {".", ".."} or "/" in name or "\\" in name:
        return False
    match = _compiled(pattern).fullmatch(name)
    if match is None:
        return False
    if any(g in match.groupdict() for g in _TIME_GROUPS):
        return recording_time(name, pattern) is not None
    return True
