"""Start-up recovery, the empty state's sample, settings, one instance, hooks."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QtMsgType
from pytestqt.qtbot import QtBot

from signpipe_gui import __version__
from signpipe_gui.app import install_excepthooks
from signpipe_gui.backend.jobs import new_job_id
from signpipe_gui.backend.settings import Settings
from signpipe_gui.widgets.job_poller import JobPoller
from signpipe_gui.widgets.job_table_model import Column
from signpipe_gui.widgets.main_window import MainWindow
from signpipe_gui.widgets.services import INTERRUPTED_MESSAGE, WindowServices
from signpipe_gui.widgets.settings_dialog import SettingsDialog
from signpipe_gui.widgets.single_instance import InstanceServer, hand_over

from .conftest import run_until
from .test_window_actions import select_job


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_startup_recovery_marks_orphans_failed_and_offers_retry(
    qtbot: QtBot, loop: qasync.QEventLoop, services: WindowServices, poller: JobPoller
) -> None:
    orphan = {
        "job_id": new_job_id(),
        "status": "running",
        "phase": "running",
        "progress_percent": 50,
        "archive_name": "orphan.zip",
        "host": services.host,
        "pid": dead_pid(),
        "created_at": time.time(),
    }
    alive = {**orphan, "job_id": new_job_id(), "pid": 1, "archive_name": "alive.zip"}
    services.progress.create_job(orphan)
    services.progress.create_job(alive)
    staging = services.store.staging_dir(orphan["job_id"])
    (staging / "2024_05_20_23_32_53_415").mkdir(parents=True)

    window = MainWindow(services, poller, probe_interval_ms=60_000)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    window.start(poll=False)
    run_until(loop, lambda: window.model.rowCount() == 2, poller=window.poller)
    run_until(
        loop,
        lambda: window.model.job_by_id(orphan["job_id"])["status"] == "error",
        poller=window.poller,
    )

    row = window.model.row_of(orphan["job_id"])
    assert window.model.index(row, Column.PROGRESS).data() == INTERRUPTED_MESSAGE
    assert window.model.job_by_id(alive["job_id"])["status"] == "running"
    assert not staging.exists()
    # The notice comes when recovery reports back, which may be after the poll.
    run_until(loop, lambda: "interrupted" in window.notice.text())
    select_job(window, orphan["job_id"])
    assert window.actions_.retry.isEnabled()
    window.shutdown()


def test_empty_table_offers_the_sample_recording(
    window: MainWindow, loop: qasync.QEventLoop
) -> None:
    assert window.stack.currentWidget() is window.empty_state

    window.empty_state.demo_button.click()
    assert window.notice.text() == "Building the sample recording…"

    run_until(
        loop,
        lambda: (
            window.model.rowCount() == 1 and window.model.job(0)["status"] == "done"
        ),
        poller=window.poller,
    )
    assert window.stack.currentWidget() is window.table
    assert window.notice.isHidden()


def test_settings_dialog_writes_the_file_the_cli_reads(
    qtbot: QtBot, settings: Settings, tmp_path: Path
) -> None:
    config = tmp_path / "settings.toml"
    dialog = SettingsDialog(settings, config_file=config)
    qtbot.addWidget(dialog)

    dialog.pattern.setText("(unclosed")
    dialog.accept()
    assert "not a valid regular expression" in dialog.problem.text()
    assert not config.exists()
    dialog.pattern.setText(r"rec_\d+")
    dialog.redis_url.setText("redis://:ab/cd@127.0.0.1:6379/0")
    dialog.accept()
    assert "percent-encoded" in dialog.problem.text()
    assert "ab/cd" not in dialog.problem.text()
    assert not config.exists()
    dialog.redis_url.setText("")

    dialog.pattern.setText(r"rec_\d+")
    dialog.concurrent.setValue(3)
    dialog.run_worker.setChecked(False)
    dialog.store.setText(str(tmp_path / "elsewhere"))
    dialog.accept()

    loaded = Settings.load(env={}, config_file=config)
    assert loaded.recording_id_pattern == r"rec_\d+"
    assert loaded.concurrent_extractions == 3
    assert loaded.run_worker is False
    assert loaded.store_path == tmp_path / "elsewhere"


def test_a_second_launch_hands_its_archives_to_the_running_window(
    qtbot: QtBot, tmp_path: Path
) -> None:
    name = f"signpipe-test-{uuid.uuid4().hex[:8]}"
    server = InstanceServer(name)
    assert server.listen()
    archive = tmp_path / "a.zip"
    received: list[list[str]] = []
    server.paths_received.connect(received.append)

    assert hand_over([str(archive)], name)
    qtbot.waitUntil(lambda: len(received) == 1)
    server.close()

    assert received == [[str(archive)]]
    assert not hand_over(["x.zip"], name)


def test_uncaught_errors_on_threads_are_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    install_excepthooks()

    def fail() -> None:
        raise RuntimeError("boom in a worker")

    thread = threading.Thread(target=fail, name="failing")
    with caplog.at_level(logging.CRITICAL):
        thread.start()
        thread.join()
        try:
            raise ValueError("boom on the GUI thread")
        except ValueError:
            sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]

    messages = [r.getMessage() for r in caplog.records]
    assert "Uncaught error on thread failing: boom in a worker" in messages
    assert "Uncaught error: boom on the GUI thread" in messages


def test_qt_warnings_go_to_logging(caplog: pytest.LogCaptureFixture) -> None:
    from signpipe_gui.app import _qt_message_handler

    with caplog.at_level(logging.WARNING, logger="qt"):
        _qt_message_handler(QtMsgType.QtWarningMsg, None, "a Qt warning")
    assert [r.getMessage() for r in caplog.records] == ["a Qt warning"]


def test_the_window_log_goes_to_a_bounded_file_in_the_data_folder(
    tmp_path: Path,
) -> None:
    from signpipe_gui.app import install_log_file

    path = tmp_path / "logs" / "signpipe.log"
    handler = install_log_file(path)
    try:
        logging.getLogger("signpipe_gui.widgets").warning("Job %s failed", "abc123")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()

    assert "WARNING signpipe_gui.widgets: Job abc123 failed" in path.read_text()
    assert handler.maxBytes > 0
    assert handler.backupCount == 1


def test_a_dead_worker_is_told_in_the_window_with_its_log(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    from signpipe_gui.app import WorkerNotices

    notices = WorkerNotices()
    notices.notice.connect(window.show_notice)
    log = tmp_path / "worker.log"

    # The supervisor calls it on its own watching thread.
    teller = threading.Thread(target=notices.tell, args=(1, log), name="watch")
    teller.start()
    teller.join()
    qtbot.waitUntil(lambda: not window.notice.isHidden(), timeout=2000)

    assert "exit code 1" in window.notice.text()
    assert str(log) in window.notice.text()


def test_about_box_names_the_version(window: MainWindow) -> None:
    assert __version__
    assert window.actions_.about.text() == "About signpipe"
