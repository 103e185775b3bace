"""Dispatch to a real `signpipe worker`: the recording's pipeline ends done, once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

from signpipe_gui.backend.dispatch import dispatch_pipeline, rerun_pipeline
from signpipe_gui.backend.pipeline_lock import PipelineLock
from signpipe_gui.backend.pipeline_state import read_mirror
from signpipe_gui.backend.progress import RedisProgressService
from signpipe_gui.backend.settings import Settings
from signpipe_gui.cli import main

from .helpers import (
    RECORDING_ID,
    make_recording,
    read_json,
    wait_for,
    wait_for_status,
    worker_env,
)


def test_dispatched_recording_runs_to_done_with_results(
    queue_settings: Settings,
    redis_client: redis.Redis,
    start_worker,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = uuid.uuid4().hex
    progress = RedisProgressService(redis_client)
    progress.create_job({"job_id": job_id, "status": "done", "created_at": time.time()})
    recording = make_recording(queue_settings.store_path, frames=4, job_id=job_id)
    start_worker(queue_settings)

    result = dispatch_pipeline(queue_settings, RECORDING_ID, job_id)

    assert result.queued
    assert result.reason is None
    status = wait_for_status(recording, {"done", "error"})
    assert status["status"] == "done", status.get("error_msg")
    assert status["task_id"] == result.task_id
    assert status["attempt"] == 1
    assert status["worker"].startswith("signpipe-")
    assert status["source"]["job_id"] == job_id
    assert status["progress_percent"] == 100
    assert [s["status"] for s in status["stages"]] == ["done"] * 4
    assert status["heartbeat_at"] >= status["started_at"]
    summary = json.loads((recording / "results" / "summary.json").read_text())
    assert summary["frames"] == 4
    for relpath in status["results"]["files"].values():
        assert (recording / relpath).is_file(), relpath

    # The mirror follows status.json a moment later.
    mirror = wait_for(
        lambda: (
            (read_mirror(redis_client, RECORDING_ID) or {}).get("status") == "done"
            and read_mirror(redis_client, RECORDING_ID)
        ),
        5,
        "the Redis mirror",
    )
    assert mirror["task_id"] == result.task_id
    ttl = redis_client.ttl(f"pipeline:{RECORDING_ID}")
    assert 0 < ttl <= queue_settings.job_ttl_seconds
    job = wait_for(
        lambda: (
            (progress.get_extraction_progress(job_id) or {}).get("pipeline_status")
            == "done"
            and progress.get_extraction_progress(job_id)
        ),
        5,
        "the job object to say done",
    )
    assert job["pipeline_task_id"] == result.task_id
    progress.close()

    # Running it again from the command line replaces the results with a new run.
    first_started = status["started_at"]
    for name, value in worker_env(queue_settings, Path.home()).items():
        if name.startswith("SIGNPIPE_"):
            monkeypatch.setenv(name, value)
    assert main(["run-pipeline", RECORDING_ID]) == 0
    assert "queued as task" in capsys.readouterr().out

    rerun = wait_for_status_of_new_task(recording, result.task_id)
    assert rerun["status"] == "done"
    assert rerun["attempt"] == 1
    assert rerun["started_at"] > first_started


def wait_for_status_of_new_task(recording: Path, old_task_id: str | None) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = read_json(recording / "status.json")
        if status.get("task_id") != old_task_id and status.get("status") == "done":
            return status
        time.sleep(0.05)
    raise AssertionError(f"no new run ended: {read_json(recording / 'status.json')}")


def test_same_recording_dispatched_twice_at_once_runs_once(
    queue_settings: Settings, start_worker
) -> None:
    recording = make_recording(queue_settings.store_path, frames=6)
    worker = start_worker(queue_settings)
    results = []
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait()
        results.append(dispatch_pipeline(queue_settings, RECORDING_ID))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.queued for r in results] == [True, True]
    status = wait_for_status(recording, {"done", "error"})
    assert status["status"] == "done"
    # Both messages reached the worker; one of them did nothing.
    log = _wait_for_log(worker, "not run:", "already runs under")
    assert log.count(f"Pipeline of {RECORDING_ID} started") == 1
    assert status["task_id"] in {r.task_id for r in results}


def test_rerun_is_refused_while_the_pipeline_runs(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    make_recording(queue_settings.store_path)
    lock = PipelineLock(redis_client, RECORDING_ID, "a-running-task", ttl=30)
    assert lock.acquire()

    result = rerun_pipeline(queue_settings, RECORDING_ID)

    assert not result.queued
    assert result.reason == (
        f"The pipeline is already running on recording {RECORDING_ID}."
    )
    lock.release()


def _wait_for_log(worker, *needles: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = worker.text()
        if any(needle in text for needle in needles):
            return text
        time.sleep(0.05)
    tail = worker.text()[-3000:]
    raise AssertionError(f"none of {needles} in the worker log:\n{tail}")
