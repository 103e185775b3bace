"""Polling Redis: new jobs appear, changed rows alone change, Redis going away shows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import qasync
import redis
import redis.asyncio as aioredis
from PySide6.QtCore import QItemSelectionModel

from signpipe_gui.backend.jobs import new_job_id
from signpipe_gui.backend.progress import RedisProgressService
from signpipe_gui.backend.redis_server import find_redis_server
from signpipe_gui.widgets.job_poller import LOAD_BATCH, JobPoller, PollResult
from signpipe_gui.widgets.job_table_model import Column, JobIdRole
from signpipe_gui.widgets.main_window import MainWindow

from .conftest import run_until


def remote_job(created_at: float, **fields: Any) -> dict[str, Any]:
    """A job as another workstation would have written it."""
    job: dict[str, Any] = {
        "job_id": new_job_id(),
        "status": "running",
        "phase": "running",
        "progress_percent": 40,
        "total_files": 100,
        "extracted_files": 10,
        "archive_name": "remote.zip",
        "host": "lab-pc-7",
        "pid": 1,
        "created_at": created_at,
    }
    job.update(fields)
    return job


def test_jobs_of_other_workstations_appear_and_one_change_touches_one_row(
    window: MainWindow, loop: qasync.QEventLoop, services: Any
) -> None:
    progress: RedisProgressService = services.progress
    jobs = [remote_job(time.time() - 10 + i) for i in range(5)]
    for job in jobs:
        progress.create_job(job)
    run_until(loop, lambda: window.model.rowCount() == 5, poller=window.poller)

    target = jobs[2]
    source_row = window.model.row_of(target["job_id"])
    assert source_row is not None
    view_row = window.proxy.mapFromSource(window.model.index(source_row, 0)).row()
    window.table.selectionModel().select(
        window.proxy.index(view_row, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows,
    )
    changed_rows: list[tuple[int, int]] = []
    window.model.dataChanged.connect(
        lambda a, b, *_: changed_rows.append((a.row(), b.row()))
    )

    progress.update_extraction_progress(
        target["job_id"], extracted_files=60, progress_percent=70
    )
    run_until(
        loop,
        lambda: window.model.job(source_row).get("extracted_files") == 60,
        poller=window.poller,
    )

    assert set(changed_rows) == {(source_row, source_row)}
    selected = window.table.selectionModel().selectedRows()
    assert [index.data(JobIdRole) for index in selected] == [target["job_id"]]
    text = window.model.index(source_row, Column.PROGRESS).data()
    assert text == "Extracting · 60 / 100 files"


def test_a_first_load_comes_one_batch_a_poll_newest_first(
    loop: qasync.QEventLoop, poller: JobPoller, services: Any
) -> None:
    progress: RedisProgressService = services.progress
    now = time.time()
    count = 2 * LOAD_BATCH + 5
    jobs = [remote_job(now - 300 + i, status="done") for i in range(count)]
    for job in jobs:
        progress.create_job(job)

    results = [loop.run_until_complete(poller.poll_once()) for _ in range(4)]

    assert [len(r.jobs) for r in results] == [LOAD_BATCH, LOAD_BATCH, 5, 0]
    seen = [j["job_id"] for r in results for j in r.jobs]
    assert seen == [j["job_id"] for j in reversed(jobs)]


def test_a_done_job_has_its_pipeline_followed_until_it_ends(
    loop: qasync.QEventLoop, poller: JobPoller, services: Any, redis_client: Any
) -> None:
    recording_id = "2024_05_20_23_32_53_415"
    done = remote_job(
        time.time(), status="done", progress_percent=100, recording_id=recording_id
    )
    services.progress.create_job(done)
    first = loop.run_until_complete(poller.poll_once())
    assert [j["job_id"] for j in first.jobs] == [done["job_id"]]
    assert done["job_id"] not in poller.active_job_ids
    assert recording_id in poller.followed_pipelines

    key = f"pipeline:{recording_id}"
    redis_client.set(key, json.dumps({"status": "running", "stage": "detect"}))
    running = loop.run_until_complete(poller.poll_once())
    assert running.pipelines[recording_id]["stage"] == "detect"
    unchanged = loop.run_until_complete(poller.poll_once())
    assert unchanged.jobs == []
    assert unchanged.pipelines == {}

    redis_client.set(key, json.dumps({"status": "done", "results": {"signs": 3}}))
    ended = loop.run_until_complete(poller.poll_once())
    assert ended.pipelines[recording_id]["status"] == "done"
    assert recording_id not in poller.followed_pipelines


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _RestartableRedis:
    """A bare redis-server on a fixed port that a test can stop and start again."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(find_redis_server()),
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def restartable_redis() -> Iterator[_RestartableRedis]:
    server = _RestartableRedis()
    server.start()
    yield server
    server.stop()


def test_redis_going_away_shows_a_banner_keeps_rows_and_recovers(
    window: MainWindow, loop: qasync.QEventLoop, restartable_redis: _RestartableRedis
) -> None:
    poller = JobPoller(
        aioredis.Redis(
            host="127.0.0.1",
            port=restartable_redis.port,
            socket_timeout=1,
            socket_connect_timeout=1,
        ),
        interval=0.05,
    )
    window.poller.polled.disconnect()
    window.poller.connection_changed.disconnect()
    window.poller = poller
    poller.polled.connect(window._on_poller_polled)
    poller.connection_changed.connect(window._on_poller_connection_changed)
    writer = RedisProgressService(
        redis.Redis(host="127.0.0.1", port=restartable_redis.port)
    )
    job = remote_job(time.time())
    writer.create_job(job)
    run_until(loop, lambda: window.model.rowCount() == 1, poller=poller)

    restartable_redis.stop()
    run_until(loop, lambda: window.banner.isVisibleTo(window), poller=poller)
    assert window.banner.text() == "Redis unreachable — retrying"
    assert window.model.job(0)["job_id"] == job["job_id"]
    assert "unreachable" in window.status.redis.text()

    restartable_redis.start()
    writer.create_job(job)
    run_until(loop, lambda: not window.banner.isVisibleTo(window), poller=poller)
    assert "connected" in window.status.redis.text()
    writer.close()
    loop.run_until_complete(poller.stop())


def test_pause_ends_polling_even_when_a_redis_call_swallowed_the_cancel(
    loop: qasync.QEventLoop, poller: JobPoller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Python 3.11 a cancel that lands as a redis-py command completes can be
    swallowed by the ``asyncio.wait_for`` around it; the poll then returns normally."""
    real_poll = poller.poll_once
    swallowed: list[bool] = []

    async def poll_swallowing_one_cancel() -> PollResult:
        if not swallowed:
            try:
                await asyncio.sleep(30)  # a command in flight when pause() cancels
            except asyncio.CancelledError:
                swallowed.append(True)
        return await real_poll()

    monkeypatch.setattr(poller, "poll_once", poll_swallowing_one_cancel)

    async def start_then_pause() -> None:
        polling = poller.start()
        await asyncio.sleep(0.05)
        pausing = asyncio.ensure_future(poller.pause())
        await asyncio.wait([pausing], timeout=5)
        paused = pausing.done()
        polling.cancel()  # a second cancel ends it either way, for the teardown
        await asyncio.wait([pausing], timeout=5)
        assert swallowed
        assert paused

    loop.run_until_complete(start_then_pause())
