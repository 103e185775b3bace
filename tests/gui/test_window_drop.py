"""Dropping archives on the real window: rows appear and reach their end state."""

from __future__ import annotations

from pathlib import Path

import qasync
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from signpipe_gui.widgets.job_table_model import Column
from signpipe_gui.widgets.main_window import MainWindow

from .conftest import make_hostile_zip, make_recording_zip, run_until


def drop(window: MainWindow, mime: QMimeData) -> None:
    """Deliver a real drop event with ``mime`` to the window."""
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


def file_mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def statuses(window: MainWindow) -> dict[str, str]:
    model = window.model
    return {
        str(model.job(r).get("archive_name")): str(model.job(r).get("status"))
        for r in range(model.rowCount())
    }


def test_drop_of_file_urls_creates_rows_that_reach_done(
    window: MainWindow, loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    first = make_recording_zip(tmp_path, "2024_05_20_23_32_53_415")
    second = make_recording_zip(tmp_path, "2024_05_21_08_00_00_000")

    drop(window, file_mime(first, second))

    run_until(
        loop, lambda: set(statuses(window).values()) == {"done"}, poller=window.poller
    )
    assert set(statuses(window)) == {first.name, second.name}
    for row in range(window.model.rowCount()):
        job = window.model.job(row)
        assert (window.services.store.root / job["recording_id"] / "camera").is_dir()
        text = window.model.index(row, Column.PROGRESS).data()
        assert text.startswith("Done · 7 files")
    assert window.stack.currentWidget() is window.table


def test_hostile_archive_row_shows_its_sentence_and_stops_being_polled(
    window: MainWindow, loop: qasync.QEventLoop, tmp_path: Path
) -> None:
    hostile = make_hostile_zip(tmp_path)

    drop(window, file_mime(hostile))

    run_until(
        loop,
        lambda: statuses(window).get("hostile.zip") == "error",
        poller=window.poller,
    )
    job = window.model.job(0)
    sentence = window.model.index(0, Column.PROGRESS).data()
    assert sentence == job["error_msg"]
    assert job["error_details"]["code"] == "path_escape"
    run_until(
        loop,
        lambda: job["job_id"] not in window.poller.active_job_ids,
        poller=window.poller,
    )
    assert not (window.services.store.root / "escaped.txt").exists()
