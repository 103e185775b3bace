"""What the pipeline queue survives: a worker killed mid-run, a broker that is down."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from signpipe_gui.backend import dispatch, outbox
from signpipe_gui.backend.dispatch import dispatch_pipeline
from signpipe_gui.backend.redis_server import find_redis_server
from signpipe_gui.backend.settings import Settings, replace

from .helpers import RECORDING_ID, make_recording, read_json, wait_for, wait_for_status

pytestmark = pytest.mark.slow


def test_worker_killed_mid_pipeline_the_recording_still_ends_done(
    queue_settings: Settings, start_worker
) -> None:
    frames = 400  # a detect stage of about a second: long enough to kill it in
    recording = make_recording(queue_settings.store_path, frames=frames)
    first = start_worker(queue_settings)
    result = dispatch_pipeline(queue_settings, RECORDING_ID)
    assert result.queued

    def detecting() -> bool:
        status = read_json(recording / "status.json")
        return status.get("stage") == "detect" and status.get("status") == "running"

    wait_for(detecting, 20, "the detect stage to run")
    first.kill()
    killed_at = time.monotonic()
    left = read_json(recording / "status.json")
    assert left["status"] == "running"
    assert not (recording / "results" / "summary.json").exists()

    second = start_worker(queue_settings)
    status = wait_for_status(recording, {"done", "error"}, timeout=40)

    assert status["status"] == "done", status.get("error_msg")
    assert status["task_id"] == result.task_id
    assert status["attempt"] == 2
    # The message came back only after its visibility timeout.
    assert time.monotonic() - killed_at >= queue_settings.visibility_timeout - 2
    summary = json.loads((recording / "results" / "summary.json").read_text())
    assert summary["frames"] == frames
    assert f"Pipeline of {RECORDING_ID} started attempt=2" in second.text()
    leftovers = [p.name for p in recording.iterdir() if p.name.startswith(".")]
    assert leftovers == []


class PrivateRedis:
    """A redis-server of this test's own on a fixed port, to stop and start again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(find_redis_server()),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        wait_for(lambda: _answers(client), 10, "the private redis-server")
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


def test_broker_down_at_dispatch_then_queued_when_it_is_back(
    queue_settings: Settings, private_redis: PrivateRedis, start_worker
) -> None:
    settings = replace(queue_settings, redis_url=private_redis.url)
    recording = make_recording(settings.store_path, frames=3)
    frames_before = sorted(p.name for p in (recording / "camera").iterdir())

    started = time.monotonic()
    result = dispatch_pipeline(settings, RECORDING_ID)
    elapsed = time.monotonic() - started

    assert not result.queued
    assert result.task_id is None
    assert "could not be queued" in (result.reason or "")
    assert elapsed < 3.0
    status = read_json(recording / "status.json")
    assert status["status"] == "not_queued"
    assert status["error_msg"] == result.reason
    assert status["error_details"]["code"] == "redis_unavailable"
    assert status["source"]["archive_name"] == f"{RECORDING_ID}.zip"
    assert sorted(p.name for p in (recording / "camera").iterdir()) == frames_before
    assert outbox.pending(settings) == [RECORDING_ID]

    # The broker comes back; the worker's re-driver queues it, nobody else acts.
    private_redis.start()
    start_worker(settings)
    status = wait_for_status(recording, {"done", "error"}, timeout=30)

    assert status["status"] == "done", status.get("error_msg")
    assert status["error_msg"] is None
    assert outbox.pending(settings) == []
    client = redis.Redis.from_url(private_redis.url)
    assert client.zcard(outbox.OUTBOX_KEY) == 0
    client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_pool_process_killed_the_task_comes_back_waits_for_the_lock_and_runs(
    queue_settings: Settings, start_worker
) -> None:
    frames = 400  # a detect stage of about a second: long enough to kill it in
    recording = make_recording(queue_settings.store_path, frames=frames)
    worker = start_worker(queue_settings)
    result = dispatch_pipeline(queue_settings, RECORDING_ID)
    assert result.queued

    wait_for(
        lambda: read_json(recording / "status.json").get("stage") == "detect",
        20,
        "the detect stage to run",
    )
    children = _children(worker.process.pid)
    assert len(children) == 1
    os.kill(children[0], signal.SIGKILL)

    # The worker gives the message back at once; the new delivery waits for the dead
    # run's lock to expire (if it has not already, which depends on the machine's
    # load) and runs as the second attempt.
    status = wait_for_status(recording, {"done", "error"}, timeout=40)
    assert status["status"] == "done", status.get("error_msg")
    assert status["attempt"] == 2
    assert status["task_id"] == result.task_id
    summary = json.loads((recording / "results" / "summary.json").read_text())
    assert summary["frames"] == frames


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def test_a_dispatch_broken_by_the_install_is_not_left_queued_and_runs_later(
    queue_settings: Settings, start_worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = make_recording(queue_settings.store_path, frames=3)

    def broken_send(*args: object) -> None:
        # What a worker dependency missing from the install raises inside kombu.
        raise ModuleNotFoundError("No module named 'packaging'")

    with monkeypatch.context() as patch:
        patch.setattr(dispatch, "_send", broken_send)
        result = dispatch_pipeline(queue_settings, RECORDING_ID)

    assert not result.queued
    assert "internal error (ModuleNotFoundError)" in (result.reason or "")
    status = read_json(recording / "status.json")
    assert status["status"] == "not_queued"
    assert status["error_details"]["code"] == "dispatch_failed"
    assert "packaging" in status["error_details"]["error"]
    assert outbox.pending(queue_settings) == [RECORDING_ID]

    # Once the install is whole, the worker's re-driver sends it with nobody acting.
    start_worker(queue_settings)
    status = wait_for_status(recording, {"done", "error"}, timeout=30)

    assert status["status"] == "done", status.get("error_msg")
    assert outbox.pending(queue_settings) == []
