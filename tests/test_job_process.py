"""The window's extraction jobs run in a child process: done, cancelled, killed."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from signpipe_gui.backend.ingest import ExtractionJob
from signpipe_gui.backend.job_process import DIED_MESSAGE, ProcessExtraction
from signpipe_gui.backend.progress import RedisProgressService
from signpipe_gui.backend.settings import Settings
from signpipe_gui.backend.store import RecordingStore
from tests.test_ingest_support import (
    RECORDING_ID,
    build_tar,
    build_zip,
    recording_files,
    sha256_of,
    staging_left,
)


@pytest.fixture
def progress(redis_client: redis.Redis) -> Iterator[RedisProgressService]:
    service = RedisProgressService(redis_client)
    yield service
    service.close()


@pytest.fixture
def make_job(
    settings: Settings, store: RecordingStore, progress: RedisProgressService
) -> Callable[[Path], ProcessExtraction]:
    def make(archive: Path) -> ProcessExtraction:
        job = ExtractionJob(archive, settings=settings, store=store, progress=progress)
        return ProcessExtraction(job, settings)

    return make


def _run_in_thread(job: ProcessExtraction) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(job.run()))
    runner.start()
    return runner, result


def _wait_until_extracting(progress: RedisProgressService, job_id: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        job = progress.get_extraction_progress(job_id) or {}
        if (job.get("extracted_files") or 0) > 20:
            return
        assert time.monotonic() < deadline, f"job never got going: {job}"
        time.sleep(0.01)


def _big_tgz(folder: Path) -> Path:
    return build_tar(folder / "drive.tgz", recording_files(count=4000), "w:gz")


def test_a_job_runs_to_done_in_its_own_process(
    tmp_path: Path,
    settings: Settings,
    make_job: Callable[[Path], ProcessExtraction],
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    job = make_job(build_zip(tmp_path / "drive.zip", recording_files()))
    created = job.create()

    final = job.run()

    assert final["status"] == "done", final.get("error_msg")
    assert final["progress_percent"] == 100
    assert (store.root / RECORDING_ID / "camera" / "0000.jpg").is_file()
    stored = progress.get_extraction_progress(job.job_id)
    assert stored is not None
    assert stored["status"] == "done"
    # The row stays the window's: created here, with this process's id.
    assert stored["pid"] == created["pid"] == os.getpid()
    assert stored["created_at"] == pytest.approx(created["created_at"])
    # Its log is in the window's log file, where an admin looks.
    log = (settings.data_dir / "logs" / "signpipe.log").read_text()
    assert f"Job {job.job_id} ended done" in log


def test_cancel_reaches_the_process_and_leaves_nothing_behind(
    tmp_path: Path,
    make_job: Callable[[Path], ProcessExtraction],
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    archive = _big_tgz(tmp_path)
    source_hash = sha256_of(archive)
    job = make_job(archive)
    job.create()
    runner, result = _run_in_thread(job)

    _wait_until_extracting(progress, job.job_id)
    job.cancel()
    runner.join(timeout=30)

    assert result["status"] == "cancelled"
    assert not (store.root / RECORDING_ID).exists()
    assert staging_left(store.root) == []
    assert sha256_of(archive) == source_hash
    assert progress.recording_claim(RECORDING_ID) is None


def test_a_killed_process_fails_its_job_in_words_and_cleans_up(
    tmp_path: Path,
    make_job: Callable[[Path], ProcessExtraction],
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    job = make_job(_big_tgz(tmp_path))
    job.create()
    runner, result = _run_in_thread(job)

    _wait_until_extracting(progress, job.job_id)
    assert job._process is not None
    job._process.send_signal(signal.SIGKILL)
    runner.join(timeout=30)

    assert result["status"] == "error"
    assert result["error_msg"] == DIED_MESSAGE
    assert result["error_details"]["exit_code"] == -signal.SIGKILL
    stored = progress.get_extraction_progress(job.job_id)
    assert stored is not None
    assert stored["status"] == "error"
    assert not (store.root / RECORDING_ID).exists()
    assert staging_left(store.root) == []
    assert progress.recording_claim(RECORDING_ID) is None


def test_a_job_cancelled_before_it_starts_needs_no_process(
    tmp_path: Path, make_job: Callable[[Path], ProcessExtraction]
) -> None:
    job = make_job(build_zip(tmp_path / "drive.zip", recording_files()))
    job.create()
    job.cancel()

    final = job.run()

    assert final["status"] == "cancelled"
    assert job._process is None
