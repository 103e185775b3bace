"""Reading GPS tracks: CSV namings, NMEA, GPX, relative times, bad files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from signpipe_gui.backend.pipeline import gps

START = dt.datetime(2024, 5, 20, 23, 32, 53, 415000, tzinfo=dt.UTC).timestamp()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_comma2k19_csv_uses_the_utc_milliseconds(ublox_csv: Path) -> None:
    track = gps.read_track(ublox_csv, start_time=None)

    assert len(track) == 579
    first = dt.datetime.fromtimestamp(track[0].time, dt.UTC)
    assert first.isoformat() == "2018-08-02T16:14:48.299000+00:00"
    assert track[0].lat == pytest.approx(37.7209977)
    assert track[0].lon == pytest.approx(-122.4723053)
    assert 59 < track[-1].time - track[0].time < 61


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("time,lat,lon", "{iso},52.1,4.3"),
        ("timestamp,latitude,longitude", "{epoch},52.1,4.3"),
        ("gps_time;Lat;Lng", "{epoch_ms};52.1;4.3"),
        ("Time (UTC)\tLatitude\tLongitude", "{iso}\t52.1\t4.3"),
        ("t,latitude_deg,long", "{epoch},52.1,4.3"),
    ],
)
def test_csv_column_namings(tmp_path: Path, header: str, row: str) -> None:
    values = {
        "iso": "2024-05-20T23:33:00Z",
        "epoch": "1716247980",
        "epoch_ms": "1716247980000",
    }
    text = header + "\n" + row.format(**values) + "\n"

    track = gps.read_track(write(tmp_path, "track.csv", text), start_time=None)

    assert track == [gps.TrackPoint(1716247980.0, 52.1, 4.3)]


def test_relative_times_are_anchored_at_the_recording_start(tmp_path: Path) -> None:
    text = "t,lat,lon\n46408.5,52.0,4.0\n46409.5,52.001,4.0\n"

    track = gps.read_track(write(tmp_path, "gps.csv", text), start_time=START)

    assert [p.time for p in track] == [START, START + 1.0]


def test_relative_times_without_a_start_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(gps.TrackError, match="relative"):
        gps.read_track(write(tmp_path, "gps.csv", "t,lat,lon\n1,52,4\n"), None)


def test_csv_without_position_columns_is_not_a_track(tmp_path: Path) -> None:
    with pytest.raises(gps.TrackError, match="columns"):
        gps.read_track(write(tmp_path, "notes.csv", "a,b\n1,2\n"), None)


def test_nmea_rmc_sentences(tmp_path: Path) -> None:
    text = (
        "$GPRMC,233300.00,A,5206.0000,N,00418.0000,E,10.0,90.0,200524,,,A*6C\n"
        "$GPGGA,233301.00,5206.0060,N,00418.0000,E,1,08,0.9,5.0,M,,M,,*47\n"
        "$GPRMC,233301.50,A,5206.0060,N,00418.0000,W,10.0,90.0,200524,,,A*6C\n"
        "$GPRMC,233302.00,V,,,,,,,200524,,,N*6C\n"
    )

    track = gps.read_track(write(tmp_path, "drive.nmea", text), None)

    stamp = dt.datetime(2024, 5, 20, 23, 33, tzinfo=dt.UTC).timestamp()
    assert [p.time for p in track] == [stamp, stamp + 1.5]
    assert track[0].lat == pytest.approx(52.1)
    assert track[0].lon == pytest.approx(4.3)
    assert track[1].lon == pytest.approx(-4.3)


def test_nmea_gga_only_takes_the_date_from_the_recording(tmp_path: Path) -> None:
    text = "$GNGGA,233300.00,5206.0000,S,00418.0000,E,1,08,0.9,5.0,M,,M,,*47\n"

    track = gps.read_track(write(tmp_path, "drive.nmea", text), START)

    stamp = dt.datetime(2024, 5, 20, 23, 33, tzinfo=dt.UTC).timestamp()
    assert track == [gps.TrackPoint(stamp, -52.1, 4.3)]


def test_gpx_track_points(tmp_path: Path) -> None:
    text = """<?xml version="1.0"?>
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="52.1" lon="4.3"><time>2024-05-20T23:33:00Z</time></trkpt>
<trkpt lat="52.2" lon="4.4"><time>2024-05-20T23:33:01.5Z</time></trkpt>
</trkseg></trk></gpx>"""

    track = gps.read_track(write(tmp_path, "drive.gpx", text), None)

    assert [(p.lat, p.lon) for p in track] == [(52.1, 4.3), (52.2, 4.4)]
    assert track[1].time - track[0].time == pytest.approx(1.5)


def test_broken_gpx_is_not_a_track(tmp_path: Path) -> None:
    with pytest.raises(gps.TrackError, match="XML"):
        gps.read_track(write(tmp_path, "drive.gpx", "<gpx><trk>"), None)


def test_implausible_positions_are_dropped(tmp_path: Path) -> None:
    text = "time,lat,lon\n1716247980,0,0\n1716247981,95,4\n1716247982,52,4\n"

    track = gps.read_track(write(tmp_path, "gps.csv", text), None)

    assert track == [gps.TrackPoint(1716247982.0, 52.0, 4.0)]


def test_a_huge_text_file_is_not_read_as_a_track(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gps, "MAX_TRACK_BYTES", 20)
    path = write(tmp_path, "can.log", "time,lat,lon\n1716247980,52.1,4.3\n")

    with pytest.raises(gps.TrackError, match="too large"):
        gps.read_track(path, None)
