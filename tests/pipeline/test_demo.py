"""``signpipe demo``: the sample archive, its contents, and the pipeline on it."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from signpipe_gui import resources
from signpipe_gui.backend.demo import build_demo_archive
from signpipe_gui.backend.pipeline import run_pipeline
from signpipe_gui.backend.recording_id import is_valid_recording_id
from signpipe_gui.backend.settings import Settings
from signpipe_gui.cli import main


def test_demo_archive_is_a_small_recording(tmp_path: Path) -> None:
    archive = build_demo_archive(tmp_path)

    recording_id = archive.stem
    assert re.fullmatch(r"\d{4}(_\d{2}){5}_\d{3}", recording_id)
    assert is_valid_recording_id(recording_id)
    assert archive.stat().st_size < 3 * 1024 * 1024
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        assert zf.testzip() is None
        meta = json.loads(zf.read(f"{recording_id}/meta.json"))
    assert {n.split("/")[0] for n in names} == {recording_id}
    frames = [
        n
        for n in names
        if n.startswith(f"{recording_id}/camera/") and n.endswith(".jpg")
    ]
    assert len(frames) == 13
    assert all(
        re.fullmatch(r"\d{4}(_\d{2}){5}_\d{3}\.jpg", Path(n).name) for n in frames
    )
    for name in ("gps.csv", "NOTICE.md", "LICENSE.comma2k19-MIT.txt"):
        assert f"{recording_id}/{name}" in names
    assert meta["start_time"] == "2018-08-02T16:14:48.299000Z"


def test_demo_archive_is_the_same_every_time(tmp_path: Path) -> None:
    first = build_demo_archive(tmp_path / "a").read_bytes()
    second = build_demo_archive(tmp_path / "b").read_bytes()

    assert first == second


def test_pipeline_on_the_demo_finds_geotagged_signs(tmp_path: Path) -> None:
    archive = build_demo_archive(tmp_path)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path / "store")
    recording = tmp_path / "store" / archive.stem

    status = run_pipeline(recording, Settings(data_dir=tmp_path / "data"))

    assert status["status"] == "done"
    results = status["results"]
    assert results["frames"] == 13
    assert results["track_points"] == 116
    assert results["signs"] >= 8
    assert results["geotagged_signs"] == results["signs"]
    assert {"stop", "prohibitory", "information", "danger"} <= set(
        results["signs_by_class"]
    )


def test_signpipe_demo_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--output", str(tmp_path)]) == 0

    written = list(tmp_path.glob("*.zip"))
    assert len(written) == 1
    assert str(written[0]) in capsys.readouterr().out


def test_signpipe_demo_into_an_unwritable_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")

    assert main(["demo", "--output", str(blocker / "sub")]) == 1

    err = capsys.readouterr().err
    assert err.startswith("The demo archive could not be written")
    assert "Traceback" not in err


def test_resources_come_from_the_bundle_when_frozen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "resources" / "demo").mkdir(parents=True)
    monkeypatch.setattr("sys._MEIPASS", str(tmp_path), raising=False)

    assert resources.resource_path("demo") == tmp_path / "resources" / "demo"
    with pytest.raises(FileNotFoundError, match=r"resource demo/gps\.csv is missing"):
        resources.resource_path("demo", "gps.csv")


def test_resources_of_the_checkout() -> None:
    assert (resources.resource_path("demo") / "NOTICE.md").is_file()
