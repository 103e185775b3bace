"""Numbers in words for the window: sizes, speeds, durations, times and counts."""

from __future__ import annotations

import datetime as dt

_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_bytes(size: float | None) -> str:
    """``1536`` -> ``"1.5 KB"``; empty for unknown sizes."""
    if size is None or size < 0:
        return ""
    value = float(size)
    for unit in _UNITS:
        if value < 1000 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return ""


def human_speed(bps: float | None) -> str:
    if not bps or bps <= 0:
        return ""
    return f"{human_bytes(bps)}/s"


def human_duration(seconds: float | None) -> str:
    """``83`` -> ``"1 min 23 s"``; empty for unknown durations."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 1:
        # "0 s" reads as "nothing happened" for a stage that took 0.3 s.
        return "< 1 s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def human_time(epoch: float | None, *, now: dt.datetime | None = None) -> str:
    """Clock time today, date and time on other days."""
    if not epoch:
        return ""
    moment = dt.datetime.fromtimestamp(epoch)
    now = now or dt.datetime.now()
    if moment.date() == now.date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")


def count(value: int | None) -> str:
    """``1204`` -> ``"1,204"``."""
    return f"{int(value or 0):,}"
