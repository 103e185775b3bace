"""The results viewer shows status.json in every state, and follows it."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from pytestqt.qtbot import QtBot

from signpipe_gui.backend.demo import build_demo_archive
from signpipe_gui.backend.pipeline import run_pipeline
from signpipe_gui.backend.pipeline.status import (
    PipelineStatus,
    StageStatus,
    finish_run,
    new_status,
    start_run,
    update_stage,
)
from signpipe_gui.backend.settings import Settings
from signpipe_gui.backend.status_file import write_status
from signpipe_gui.widgets.results_viewer import ResultsViewer

RECORDING_ID = "2024_05_20_23_32_53_415"


@pytest.fixture(scope="session")
def demo_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo recording with a real pipeline run's results, made once."""
    root = tmp_path_factory.mktemp("demo-store")
    archive = build_demo_archive(tmp_path_factory.mktemp("demo-archive"))
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(root)
    recording = next(p for p in root.iterdir() if p.is_dir())
    final = run_pipeline(recording, Settings(data_dir=root / ".data", store=root))
    write_status(recording, final)
    return recording


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    folder = tmp_path / RECORDING_ID
    folder.mkdir()
    return folder


def open_viewer(qtbot: QtBot, folder: Path, **kwargs: Any) -> ResultsViewer:
    viewer = ResultsViewer(folder, **kwargs)
    qtbot.addWidget(viewer)
    return viewer


def test_queued(qtbot: QtBot, recording: Path) -> None:
    write_status(recording, new_status(RECORDING_ID))
    viewer = open_viewer(qtbot, recording)
    assert viewer.state_label.text() == "Pipeline: Queued: waiting for a worker"
    assert viewer.stages.rowCount() == 4
    assert viewer.stages.item(0, 1).text() == "Waiting"


def test_running_is_followed_as_it_changes(qtbot: QtBot, recording: Path) -> None:
    running = start_run(new_status(RECORDING_ID), now=1000.0)
    running = update_stage(running, "inventory", state=StageStatus.RUNNING, now=1000.0)
    running = update_stage(running, "inventory", state=StageStatus.DONE, now=1002.0)
    running = update_stage(
        running, "detect", state=StageStatus.RUNNING, percent=40, now=1003.0
    )
    write_status(recording, {**running, "worker": "lab-pc-2"})
    viewer = open_viewer(qtbot, recording)

    assert viewer.state_label.text() == "Pipeline: Running: detect · on lab-pc-2"
    assert viewer.stages.item(0, 3).text() == "2 s"
    assert viewer.stages.item(1, 2).text() == "40 %"

    write_status(
        recording,
        finish_run(
            running, PipelineStatus.ERROR, error_msg="No frames found in the recording."
        ),
    )
    qtbot.waitUntil(lambda: viewer.state_label.text().startswith("Pipeline: Failed"))
    assert viewer.message.text() == "No frames found in the recording."
    assert viewer.stages.item(1, 1).text() == "Failed"


def test_not_queued(qtbot: QtBot, recording: Path) -> None:
    write_status(
        recording,
        new_status(
            RECORDING_ID,
            status=PipelineStatus.NOT_QUEUED,
            error_msg="The pipeline could not be queued because Redis did not answer.",
        ),
    )
    viewer = open_viewer(qtbot, recording)
    assert "Not queued yet" in viewer.state_label.text()
    assert "could not be queued" in viewer.message.text()


def test_malformed_and_missing_status_get_a_message(
    qtbot: QtBot, recording: Path, tmp_path: Path
) -> None:
    (recording / "status.json").write_text('{"status": "runn', encoding="utf-8")
    viewer = open_viewer(qtbot, recording)
    assert viewer.status is None
    assert "not valid JSON" in viewer.message.text()

    (recording / "status.json").unlink()
    viewer.reload()
    assert "no status.json" in viewer.message.text()

    gone = open_viewer(qtbot, tmp_path / "2024_01_01_00_00_00_000")
    assert "not in this workstation's store" in gone.message.text()


def test_done_shows_signs_track_previews_and_opens_files(
    qtbot: QtBot,
    demo_results: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recording = tmp_path / demo_results.name
    shutil.copytree(demo_results, recording)
    reruns: list[bool] = []
    opened: list[QUrl] = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", lambda url: opened.append(url) or True
    )
    viewer = open_viewer(qtbot, recording, on_rerun=lambda: reruns.append(True))
    results = viewer.status["results"] if viewer.status else {}

    assert viewer.state_label.text() == "Pipeline: Done"
    assert viewer.progress.value() == 100
    assert viewer.signs.rowCount() == results["signs"] > 0
    assert f"{results['signs']} signs" in viewer.summary.text()
    assert len(viewer.track.track) == results["track_points"] > 1
    assert viewer.track.signs
    previews = [name for name in results["files"] if name.startswith("previews/")]
    assert viewer.previews_layout.count() == len(previews) > 0

    viewer.open_folder_button.click()
    viewer.files_menu.actions()[0].trigger()
    viewer.rerun_button.click()
    assert [Path(u.toLocalFile()) for u in opened] == [
        recording,
        recording / "results" / "detections.csv",
    ]
    assert reruns == [True]
    assert not viewer.message.text()
    viewer.grab()

    # A desktop where nothing opens a CSV file: the viewer says where it is.
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    viewer.files_menu.actions()[0].trigger()
    assert viewer.message.text() == (
        f"No application could open {recording / 'results' / 'detections.csv'}"
    )
