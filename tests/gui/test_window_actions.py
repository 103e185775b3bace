"""Refused drops, cancel, open folder, error details, retry and quitting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QItemSelectionModel, QMimeData, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from signpipe_gui.backend.pipeline.status import (
    PipelineStatus,
    finish_run,
    new_status,
    start_run,
)
from signpipe_gui.backend.settings import replace
from signpipe_gui.backend.status_file import write_status
from signpipe_gui.widgets.error_dialog import ErrorDialog
from signpipe_gui.widgets.job_poller import JobPoller
from signpipe_gui.widgets.main_window import MainWindow
from signpipe_gui.widgets.services import WindowServices

from .conftest import RECORDING_ID, make_hostile_zip, make_recording_zip, run_until
from .test_window_drop import drop, file_mime, statuses


def select_job(window: MainWindow, job_id: str) -> None:
    row = window.model.row_of(job_id)
    assert row is not None
    index = window.proxy.mapFromSource(window.model.index(row, 0))
    window.table.selectionModel().select(
        index,
        QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows,
    )


def only_job(window: MainWindow) -> dict[str, Any]:
    assert window.model.rowCount() == 1
    return window.model.job(0)


def test_remote_empty_and_text_drops_are_refused_with_a_message(
    window: MainWindow, qtbot: QtBot
) -> None:
    mime = QMimeData()
    mime.setUrls(
        [QUrl("sftp://lab-nas/drives/2024.zip"), QUrl("smb://nas/x.zip"), QUrl()]
    )
    drop(window, mime)
    remote_notice = window.notice.text()
    text_only = QMimeData()
    text_only.setText("/home/someone/2024.zip")
    drop(window, text_only)
    qtbot.wait(50)

    assert window.model.rowCount() == 0
    assert window._pending_paths == []
    assert "sftp://lab-nas/drives/2024.zip is not a local file" in remote_notice
    assert "smb://nas/x.zip is not a local file" in remote_notice
    assert "An empty link" in remote_notice
    assert window.notice.text() == "Only files can be dropped here, not text."
    assert window.notice.isVisibleTo(window)


def test_a_file_that_is_not_an_archive_gets_a_message_not_a_row(
    window: MainWindow, loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.zip"
    notes.write_text("just some text, named like an archive\n" * 40)

    drop(window, file_mime(notes, tmp_path))

    run_until(
        loop,
        lambda: (
            "tmp_path" not in window.notice.text() and "folder" in window.notice.text()
        ),
    )
    assert window.model.rowCount() == 0


def test_cancel_of_a_queued_and_a_running_job(
    qtbot: QtBot,
    loop: qasync.QEventLoop,
    services: WindowServices,
    poller: JobPoller,
    tmp_path: Path,
) -> None:
    services.settings = replace(services.settings, concurrent_extractions=1)
    window = MainWindow(services, poller, probe_interval_ms=60_000)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    big = make_recording_zip(tmp_path, frames=4000, frame_bytes=64, name="big.zip")
    small = make_recording_zip(tmp_path, "2024_05_21_08_00_00_000", name="small.zip")

    drop(window, file_mime(big, small))
    run_until(loop, lambda: len(statuses(window)) == 2, poller=poller)
    by_name = {
        window.model.job(r)["archive_name"]: window.model.job(r) for r in range(2)
    }
    assert window.pool.queued_job_ids() == [by_name["small.zip"]["job_id"]]

    select_job(window, by_name["small.zip"]["job_id"])
    qtbot.keyClick(window.table, Qt.Key.Key_Delete)
    run_until(loop, lambda: statuses(window)["small.zip"] == "cancelled", poller=poller)

    run_until(
        loop,
        lambda: statuses(window)["big.zip"] in ("running", "done"),
        poller=poller,
    )
    select_job(window, by_name["big.zip"]["job_id"])
    window.actions_.cancel.trigger()
    run_until(loop, lambda: not window.pool.busy, poller=poller)

    assert statuses(window)["big.zip"] == "cancelled"
    store = services.store
    assert not any(store.staging_root.iterdir())
    assert store.recording_ids() == []
    window.shutdown()


def test_open_folder_opens_the_recordings_folder(
    window: MainWindow,
    loop: qasync.QEventLoop,
    qtbot: QtBot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", lambda url: opened.append(url) or True
    )
    archive = make_recording_zip(tmp_path)
    drop(window, file_mime(archive))
    run_until(
        loop, lambda: statuses(window).get(archive.name) == "done", poller=window.poller
    )
    job = only_job(window)

    select_job(window, job["job_id"])
    qtbot.keyClick(window.table, Qt.Key.Key_Return)

    expected = window.services.store.root / job["recording_id"]
    assert [Path(url.toLocalFile()) for url in opened] == [expected]
    assert window.actions_.open_folder.isEnabled()
    assert not window.actions_.cancel.isEnabled()
    assert window.notice.isHidden()

    # A desktop with no file manager: the window says where the folder is.
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    window.actions_.open_folder.trigger()
    assert not window.notice.isHidden()
    assert str(expected) in window.notice.text()


def test_error_details_show_the_sentence_and_copy_the_details(
    window: MainWindow, loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    drop(window, file_mime(make_hostile_zip(tmp_path)))
    run_until(
        loop,
        lambda: statuses(window).get("hostile.zip") == "error",
        poller=window.poller,
    )
    job = only_job(window)

    dialog = window.actions_.show_error_of(job)
    dialog.copy_button.click()

    assert isinstance(dialog, ErrorDialog)
    assert dialog.sentence.text() == job["error_msg"]
    assert "path_escape" in dialog.details.toPlainText()
    assert QGuiApplication.clipboard().text() == dialog.text
    dialog.close()
    # The archive itself is hostile: retrying the same bytes cannot help.
    select_job(window, job["job_id"])
    assert window.actions_.error_details.isEnabled()
    assert not window.actions_.retry.isEnabled()


def test_retry_runs_a_failed_job_again_from_its_spool_copy(
    window: MainWindow, loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    archive = make_recording_zip(tmp_path)
    drop(window, file_mime(archive))
    run_until(
        loop, lambda: statuses(window).get(archive.name) == "done", poller=window.poller
    )
    drop(window, file_mime(archive))
    run_until(
        loop,
        lambda: sorted(statuses_list(window)) == ["done", "error"],
        poller=window.poller,
    )
    failed = next(j for j in jobs(window) if j["status"] == "error")
    assert failed["error_msg"] == "Recording already exists."

    select_job(window, failed["job_id"])
    assert window.actions_.retry.isEnabled()
    window.actions_.retry.trigger()

    run_until(
        loop,
        lambda: any(j.get("retry_of") == failed["job_id"] for j in jobs(window)),
        poller=window.poller,
    )
    retried = next(j for j in jobs(window) if j.get("retry_of") == failed["job_id"])
    run_until(
        loop,
        lambda: window.model.job_by_id(retried["job_id"])["status"] == "error",
        poller=window.poller,
    )


def test_quitting_with_extractions_running_asks_then_cancels_and_joins(
    qtbot: QtBot,
    loop: qasync.QEventLoop,
    services: WindowServices,
    poller: JobPoller,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = MainWindow(services, poller, probe_interval_ms=60_000)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    big = make_recording_zip(tmp_path, frames=4000, frame_bytes=64, name="big.zip")
    drop(window, file_mime(big))
    run_until(loop, lambda: window.pool.running_job_ids(), poller=poller)
    asked: list[str] = []

    def answer(*args: Any, **kwargs: Any) -> QMessageBox.StandardButton:
        asked.append(args[1])
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    assert window.close()

    assert asked == ["Quit signpipe?"]
    assert not window.pool.busy
    job = services.progress.get_extraction_progress(window.model.job(0)["job_id"])
    assert job is not None
    assert job["status"] in ("cancelled", "done")
    assert not any(services.store.staging_root.iterdir())


def jobs(window: MainWindow) -> list[dict[str, Any]]:
    return [window.model.job(r) for r in range(window.model.rowCount())]


def statuses_list(window: MainWindow) -> list[str]:
    return [str(j["status"]) for j in jobs(window)]


def test_results_viewer_opened_again_after_closing_shows_the_current_state(
    window: MainWindow, qtbot: QtBot
) -> None:
    recording = window.services.recording_dir(RECORDING_ID)
    recording.mkdir(parents=True)
    write_status(recording, new_status(RECORDING_ID))
    first = window.actions_.show_results_of(RECORDING_ID)
    assert first.status is not None
    assert first.status["status"] == "queued"
    first.close()

    # The pipeline runs and fails while the viewer is closed.
    running = start_run(new_status(RECORDING_ID))
    write_status(
        recording, finish_run(running, PipelineStatus.ERROR, error_msg="Boom.")
    )
    again = window.actions_.show_results_of(RECORDING_ID)
    qtbot.addWidget(again)

    assert again is not first
    assert again.status is not None
    assert again.status["status"] == "error"
    assert again.isVisible()
