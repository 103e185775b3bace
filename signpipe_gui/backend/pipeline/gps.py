"""Reading a recording's GPS track: CSV (any common column naming), NMEA or GPX.

Times become seconds since the epoch (UTC). A track whose times are relative (seconds
since the logger started) is anchored at the recording's start time.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .types import TrackPoint

TRACK_SUFFIXES = {".csv", ".tsv", ".nmea", ".gpx", ".txt", ".log"}

LAT_NAMES = ("lat", "latitude", "latitude_deg", "lat_deg", "gps_lat", "gps_latitude")
LON_NAMES = (
    "lon",
    "lng",
    "long",
    "longitude",
    "longitude_deg",
    "lon_deg",
    "gps_lon",
    "gps_lng",
    "gps_longitude",
)
# Most to least likely to hold absolute times; relative ones (boot time) come last.
TIME_NAMES = (
    "utc_timestamp_ms",
    "utc_timestamp",
    "timestamp_ms",
    "gps_time",
    "utc_time",
    "time_utc",
    "datetime",
    "date_time",
    "timestamp",
    "time",
    "unix_time",
    "epoch",
    "t",
    "time_s",
    "boot_time_s",
    "seconds",
    "sec",
)

# Text files larger than this are other loggers' output, not a GPS track (a day of
# 10 Hz NMEA is about 150 MB).
MAX_TRACK_BYTES = 256 * 1024**2

# Epoch seconds below this are taken as relative times (about 1973).
ABSOLUTE_EPOCH_MIN = 1e8


class TrackError(ValueError):
    """A file that looked like a track cannot be read as one."""


def read_track(path: Path, start_time: float | None) -> list[TrackPoint]:
    """The track points in a file, sorted by time; TrackError if it holds none."""
    if path.stat().st_size > MAX_TRACK_BYTES:
        raise TrackError(f"{path.name} is too large to be a GPS track")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8", errors="replace")
    if suffix == ".gpx" or "<gpx" in text[:500]:
        points = read_gpx(text)
    elif "$GP" in text[:2000] or "$GN" in text[:2000]:
        points = read_nmea(text, start_time)
    else:
        points = read_csv(text, start_time)
    points = sorted(p for p in points if _plausible(p))
    if len(points) < 1:
        raise TrackError(f"{path.name} holds no GPS positions")
    return _dedupe(points)


def read_csv(text: str, start_time: float | None) -> list[TrackPoint]:
    """Points from a CSV (or TSV/semicolon) file with time, latitude and longitude."""
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            sample, delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(text.splitlines(), dialect))
    if len(rows) < 2:
        raise TrackError("the CSV file has no data rows")

    header = [_normalise(name) for name in rows[0]]
    lat_col = _column(header, LAT_NAMES)
    lon_col = _column(header, LON_NAMES)
    time_col = _column(header, TIME_NAMES)
    if lat_col is None or lon_col is None or time_col is None:
        raise TrackError("the CSV file has no time, latitude and longitude columns")

    millis = header[time_col].endswith("_ms")
    raw: list[tuple[float, float, float]] = []
    for row in rows[1:]:
        try:
            when = parse_time(row[time_col], millis=millis)
            raw.append((when, float(row[lat_col]), float(row[lon_col])))
        except (IndexError, ValueError):
            continue
    return _anchor(raw, start_time)


def read_nmea(text: str, start_time: float | None) -> list[TrackPoint]:
    """Points from NMEA 0183 sentences ($xxRMC, else $xxGGA)."""
    rmc: list[TrackPoint] = []
    gga: list[tuple[str, float, float]] = []
    date: str | None = None
    for line in text.splitlines():
        fields = line.strip().split("*")[0].split(",")
        kind = fields[0][3:] if fields[0].startswith("$") else ""
        try:
            if kind == "RMC" and len(fields) >= 10 and fields[2] == "A":
                date = fields[9]
                when = _nmea_time(fields[1], date)
                rmc.append(TrackPoint(when, *_nmea_position(fields[3:7])))
            elif kind == "GGA" and len(fields) >= 7 and fields[6] not in ("", "0"):
                gga.append((fields[1], *_nmea_position(fields[2:6])))
        except ValueError:
            continue
    if rmc:
        return rmc

    # GGA has no date: take it from the recording's start time.
    if start_time is None:
        raise TrackError("NMEA GGA sentences need a date; the recording has none")
    day = dt.datetime.fromtimestamp(start_time, dt.UTC).strftime("%d%m%y")
    return [TrackPoint(_nmea_time(t, day), lat, lon) for t, lat, lon in gga]


def read_gpx(text: str) -> list[TrackPoint]:
    """Points from a GPX file's track, route or way points that carry a time."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise TrackError(f"the GPX file is not valid XML ({exc})") from exc
    points = []
    for element in root.iter():
        if not element.tag.endswith(("trkpt", "rtept", "wpt")):
            continue
        when = next((c.text for c in element if c.tag.endswith("time")), None)
        try:
            lat, lon = float(element.attrib["lat"]), float(element.attrib["lon"])
            points.append(TrackPoint(parse_time(when or ""), lat, lon))
        except (KeyError, ValueError):
            continue
    return points


def parse_time(value: str, *, millis: bool = False) -> float:
    """Seconds since the epoch from a number (s, ms, µs, ns) or an ISO 8601 text.

    A small number stays as it is: it is a relative time the caller anchors.
    """
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        stamp = dt.datetime.fromisoformat(value)
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return stamp.timestamp()
    if millis:
        return number / 1e3
    for limit, divisor in ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3)):
        if abs(number) >= limit:
            return number / divisor
    return number


def _anchor(
    raw: list[tuple[float, float, float]], start_time: float | None
) -> list[TrackPoint]:
    """Absolute points as they are; relative ones shifted to start at start_time."""
    if not raw:
        return []
    first = min(t for t, _, _ in raw)
    if first >= ABSOLUTE_EPOCH_MIN:
        return [TrackPoint(t, lat, lon) for t, lat, lon in raw]
    if start_time is None:
        raise TrackError("the track's times are relative and the recording has none")
    return [TrackPoint(start_time + t - first, lat, lon) for t, lat, lon in raw]


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def _nmea_position(fields: list[str]) -> tuple[float, float]:
    lat = _nmea_degrees(fields[0], 2) * (-1 if fields[1] == "S" else 1)
    lon = _nmea_degrees(fields[2], 3) * (-1 if fields[3] == "W" else 1)
    return lat, lon


def _nmea_degrees(value: str, degree_digits: int) -> float:
    return float(value[:degree_digits]) + float(value[degree_digits:]) / 60


def _nmea_time(hhmmss: str, ddmmyy: str) -> float:
    stamp = dt.datetime.strptime(ddmmyy + hhmmss.split(".")[0], "%d%m%y%H%M%S")
    fraction = float("0." + hhmmss.split(".")[1]) if "." in hhmmss else 0.0
    return stamp.replace(tzinfo=dt.UTC).timestamp() + fraction


def _plausible(point: TrackPoint) -> bool:
    return (
        math.isfinite(point.lat)
        and math.isfinite(point.lon)
        and -90 <= point.lat <= 90
        and -180 <= point.lon <= 180
        and (point.lat, point.lon) != (0.0, 0.0)
    )


def _dedupe(points: list[TrackPoint]) -> list[TrackPoint]:
    """One point per time (interpolation needs strictly increasing times)."""
    kept = [points[0]]
    for point in points[1:]:
        if point.time > kept[-1].time:
            kept.append(point)
    return kept
