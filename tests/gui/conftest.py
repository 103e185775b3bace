"""Fixtures for the window's tests: a qasync loop, real archives, services, a window."""

from __future__ import annotations

import asyncio
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import qasync
import redis
import redis.asyncio as aioredis
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from signpipe_gui.app import default_executor
from signpipe_gui.backend.settings import Settings, replace
from signpipe_gui.gui_collector import GuiThreadCollector
from signpipe_gui.widgets.extraction_pool import running_threads
from signpipe_gui.widgets.job_poller import JobPoller
from signpipe_gui.widgets.main_window import MainWindow
from signpipe_gui.widgets.services import WindowServices

RECORDING_ID = "2024_05_20_23_32_53_415"
# The window's own worker threads (backend modules keep their own pools).
_OUR_THREADS = ("signpipe-intake", "signpipe-probe", "signpipe-background")


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread(qapp: object) -> Iterator[None]:
    """Garbage is collected on the GUI thread only, as the application does it."""
    collector = GuiThreadCollector(interval_ms=50)
    collector.start()
    yield
    collector.stop()


@pytest.fixture(autouse=True)
def _no_unexpected_modal_dialogs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A modal dialog nobody answers blocks the suite for good (no Python runs to
    time it out), so one a test does not expect fails it instead; a test that
    expects one patches it again."""

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"an unexpected modal dialog was opened: {args[1:2]}")

    for name in ("question", "warning", "critical", "information", "about"):
        monkeypatch.setattr(QMessageBox, name, refuse)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", refuse)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", refuse)


@pytest.fixture(autouse=True)
def _no_dangling_threads() -> Iterator[None]:
    """Fail a test that leaves an extraction QThread or a window thread running."""
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 5
    while running_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not running_threads(), f"QThreads left running: {running_threads()}"
    ours = [
        t.name
        for t in threading.enumerate()
        if t.ident not in before and t.name.startswith(_OUR_THREADS) and t.is_alive()
    ]
    assert not ours, f"threads left running: {ours}"


@pytest.fixture
def loop(qapp: object) -> Iterator[qasync.QEventLoop]:
    """A qasync loop over the test's QApplication, as the application runs."""
    event_loop = qasync.QEventLoop(qapp)
    event_loop.set_default_executor(default_executor())
    asyncio.set_event_loop(event_loop)
    yield event_loop
    event_loop.close()
    asyncio.set_event_loop(None)


def run_until(
    loop: asyncio.AbstractEventLoop,
    predicate: Callable[[], object],
    timeout: float = 15,
    *,
    poller: JobPoller | None = None,
) -> None:
    """Run the Qt and asyncio event loop (and the poller) until ``predicate()``.

    The poller only runs inside this call: between calls Qt may process events
    while no asyncio loop is running (pytest-qt does), and a coroutine resumed
    then would find no running loop.
    """

    async def wait() -> None:
        if poller is not None:
            poller.start()
        deadline = time.monotonic() + timeout
        try:
            while not predicate():
                if time.monotonic() > deadline:
                    raise AssertionError(f"condition not met within {timeout} s")
                await asyncio.sleep(0.02)
        finally:
            if poller is not None:
                await poller.pause()

    loop.run_until_complete(wait())


@pytest.fixture
def gui_settings(settings: Settings) -> Settings:
    return replace(settings, concurrent_extractions=2, run_worker=False)


@pytest.fixture
def services(gui_settings: Settings) -> Iterator[WindowServices]:
    client = redis.Redis.from_url(gui_settings.redis_url, socket_timeout=5)
    built = WindowServices(gui_settings, client, ping_timeout=0.2)
    yield built
    built.progress.close()
    client.close()


@pytest.fixture
def poller(loop: qasync.QEventLoop, gui_settings: Settings) -> Iterator[JobPoller]:
    client = aioredis.Redis.from_url(gui_settings.redis_url, socket_timeout=5)
    job_poller = JobPoller(client, interval=0.05)
    yield job_poller
    loop.run_until_complete(job_poller.stop())


@pytest.fixture
def window(
    qtbot: QtBot, loop: qasync.QEventLoop, services: WindowServices, poller: JobPoller
) -> Iterator[MainWindow]:
    main = MainWindow(services, poller, probe_interval_ms=60_000)
    # Shut down before pytest-qt closes it: a job still ending would otherwise make
    # the close ask "Quit signpipe?" in a dialog nobody answers.
    qtbot.addWidget(main, before_close_func=lambda w: w.shutdown())
    main.show()
    main.start(poll=False)
    yield main
    main.shutdown()


def make_recording_zip(
    folder: Path,
    recording_id: str = RECORDING_ID,
    *,
    frames: int = 5,
    frame_bytes: int = 2048,
    name: str | None = None,
) -> Path:
    """A small real recording archive: frames, a GPS track and metadata."""
    path = folder / (name or f"{recording_id}.zip")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{recording_id}/", "")
        archive.writestr(f"{recording_id}/meta.json", '{"vehicle": "test"}\n')
        track = "time_s,lat,lon\n" + "".join(
            f"{i},{48.1 + i * 1e-4:.6f},{11.5 + i * 1e-4:.6f}\n" for i in range(frames)
        )
        archive.writestr(f"{recording_id}/gps.csv", track)
        for i in range(frames):
            body = bytes((i * 7 + j) % 251 for j in range(frame_bytes))
            archive.writestr(f"{recording_id}/camera/{i:04d}.jpg", body)
    return path


def make_hostile_zip(folder: Path, recording_id: str = RECORDING_ID) -> Path:
    """An archive with a member that escapes the recording folder."""
    path = folder / "hostile.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{recording_id}/camera/0001.jpg", b"x" * 100)
        archive.writestr(f"{recording_id}/../../escaped.txt", b"gotcha")
    return path
