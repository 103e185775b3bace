"""The extraction job end to end: phases and bands as seen in Redis, formats, races."""

from __future__ import annotations

import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from signpipe_gui.backend.ingest import ExtractionJob, retry_job
from signpipe_gui.backend.jobs import PHASE_BANDS, PHASE_STATUS, Phase
from signpipe_gui.backend.progress import RedisProgressService
from signpipe_gui.backend.settings import Settings, replace
from signpipe_gui.backend.status_file import read_status
from signpipe_gui.backend.store import RecordingStore
from tests.test_ingest_support import (
    RECORDING_ID,
    build_tar,
    build_zip,
    recording_files,
    sha256_of,
    staging_left,
    store_snapshot,
    tree_of,
)

PHASE_ORDER = [None, "reading", "writing", "extracting", "running"]


@pytest.fixture
def progress(redis_client: redis.Redis) -> Iterator[RedisProgressService]:
    service = RedisProgressService(redis_client)
    yield service
    service.close()


def make_job(
    archive: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
    **options: Any,
) -> ExtractionJob:
    return ExtractionJob(
        archive, settings=settings, store=store, progress=progress, **options
    )


class Recorder:
    """Polls a job object in Redis from a thread and keeps every distinct version."""

    def __init__(self, progress: RedisProgressService, job_id: str) -> None:
        self.progress = progress
        self.job_id = job_id
        self.seen: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> Recorder:
        self._record()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._record()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._record()
            time.sleep(0.001)

    def _record(self) -> None:
        job = self.progress.get_extraction_progress(self.job_id)
        if job is not None and (not self.seen or job != self.seen[-1]):
            self.seen.append(job)


def assert_contract_sequence(seen: list[dict[str, Any]]) -> None:
    """Phases in order, each under its status, percent monotonic within its band."""
    assert seen[0]["status"] == "queued"
    phases = [job["phase"] for job in seen]
    order = [PHASE_ORDER.index(phase) for phase in phases]
    assert order == sorted(order), phases

    percents = [job["progress_percent"] for job in seen]
    assert percents == sorted(percents), percents

    for job in seen[1:-1]:
        phase = Phase(job["phase"])
        low, high = PHASE_BANDS[phase]
        assert low <= job["progress_percent"] <= high, job
        assert job["status"] == PHASE_STATUS[phase].value, job

    files = [job["extracted_files"] for job in seen]
    assert files == sorted(files)

    final = seen[-1]
    assert final["status"] == "done"
    assert final["progress_percent"] == 100
    assert final["finished_at"] >= final["started_at"] >= final["created_at"]


def test_job_publishes_every_phase_in_order_and_ends_done_at_100(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    files = recording_files(count=300, size=20_000)
    archive = build_tar(tmp_path / "drive.tgz", files, "w:gz")
    # Publishing at every step makes the run long enough for the poller to see
    # states inside each band.
    every_step = replace(settings, progress_interval=0.0)
    job = make_job(archive, every_step, store, progress)

    job.create()
    with Recorder(progress, job.job_id) as recorder:
        final = job.run()

    assert_contract_sequence(recorder.seen)
    phases_seen = {job["phase"] for job in recorder.seen}
    assert {"reading", "writing", "extracting", "running"} <= phases_seen
    assert any(30 < job["progress_percent"] < 100 for job in recorder.seen)
    assert final["progress_percent"] == 100
    assert recorder.seen[-1]["job_id"] == final["job_id"]
    assert recorder.seen[-1]["extracted_files"] == len(files)
    assert recorder.seen[-1]["total_files"] == len(files)


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("drive.zip", lambda p, f: build_zip(p, f)),
        ("stored.zip", lambda p, f: build_zip(p, f, zipfile.ZIP_STORED)),
        ("drive.tar", lambda p, f: build_tar(p, f)),
        ("drive.tar.gz", lambda p, f: build_tar(p, f, "w:gz")),
        ("drive.tar.bz2", lambda p, f: build_tar(p, f, "w:bz2")),
        ("drive.tar.xz", lambda p, f: build_tar(p, f, "w:xz")),
        ("misnamed.bin", lambda p, f: build_tar(p, f, "w:gz")),
    ],
)
def test_each_format_becomes_a_whole_recording(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
    name: str,
    build: Any,
) -> None:
    files = recording_files()
    archive = build(tmp_path / name, files)
    source_hash = sha256_of(archive)

    final = make_job(archive, settings, store, progress).run()

    assert final["status"] == "done", final
    assert final["archive_sha256"] == source_hash
    assert final["recording_id"] == RECORDING_ID
    assert final["extract_size"] == sum(len(data) for data in files.values())
    recording = store.recording_path(RECORDING_ID)
    for member, data in files.items():
        assert (store.root / member).read_bytes() == data
    assert set(tree_of(recording)) >= {"camera", "gps.csv", "meta.json"}
    assert sha256_of(archive) == source_hash
    assert staging_left(store.root) == []
    assert not store.spool_dir(final["job_id"]).exists()
    assert final["spool_path"] is None


def test_zstd_tar_is_recognised_from_its_bytes(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    zstandard = pytest.importorskip("zstandard")
    plain = build_tar(tmp_path / "plain.tar", recording_files())
    archive = tmp_path / "drive.tar.zst"
    archive.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))

    final = make_job(archive, settings, store, progress).run()

    assert final["status"] == "done", final
    assert final["archive_format"] == "tar.zst"


def test_status_json_links_the_recording_to_its_job(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    archive = build_zip(tmp_path / "drive.zip", recording_files())
    seen: list[tuple[str, str, bool]] = []

    @dataclass
    class Result:
        task_id: str | None
        queued: bool
        reason: str | None

    def dispatch(recording_id: str, job_id: str) -> Result:
        written = (store.recording_path(recording_id) / "status.json").is_file()
        seen.append((recording_id, job_id, written))
        return Result("task-1", True, None)

    job = make_job(archive, settings, store, progress, dispatch=dispatch)
    final = job.run()

    assert seen == [(RECORDING_ID, job.job_id, True)]
    assert final["pipeline_task_id"] == "task-1"
    assert final["pipeline_status"] == "queued"
    status = read_status(store.recording_path(RECORDING_ID))
    assert status["status"] == "queued"
    assert status["recording_id"] == RECORDING_ID
    assert status["source"] == {
        "job_id": job.job_id,
        "archive_name": "drive.zip",
        "archive_sha256": sha256_of(archive),
        "file_count": len(recording_files()),
        "size": final["extract_size"],
    }


def test_fields_the_pipeline_wrote_meanwhile_are_not_overwritten(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
    redis_client: redis.Redis,
) -> None:
    archive = build_zip(tmp_path / "drive.zip", recording_files())
    pipeline_side = RedisProgressService(redis_client)

    @dataclass
    class Result:
        task_id: str | None
        queued: bool
        reason: str | None

    def dispatch(recording_id: str, job_id: str) -> Result:
        # The task starts within milliseconds and reports on the job object itself.
        pipeline_side.update_extraction_progress(
            job_id, pipeline_task_id="task-9", pipeline_status="running"
        )
        return Result("task-9", True, None)

    job = make_job(archive, settings, store, progress, dispatch=dispatch)
    final = job.run()
    pipeline_side.close()

    stored = progress.get_extraction_progress(job.job_id)
    assert stored is not None
    assert stored["status"] == "done"
    assert stored["pipeline_status"] == "running"
    assert stored["pipeline_task_id"] == "task-9"
    assert final["pipeline_status"] == "queued"


def test_a_failing_dispatch_still_ends_done_with_pipeline_not_queued(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    archive = build_zip(tmp_path / "drive.zip", recording_files())

    def dispatch(recording_id: str, job_id: str) -> Any:
        raise ConnectionError("broker away")

    final = make_job(archive, settings, store, progress, dispatch=dispatch).run()

    assert final["status"] == "done"
    assert final["pipeline_status"] == "not_queued"
    assert store.has_recording(RECORDING_ID)
    assert "could not queue the pipeline" in caplog.text


def test_duplicate_recording_is_refused_and_the_store_untouched(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    archive = build_zip(tmp_path / "drive.zip", recording_files())
    again = build_tar(tmp_path / "again.tar", recording_files(count=3, size=10))
    assert make_job(archive, settings, store, progress).run()["status"] == "done"
    before = store_snapshot(store.root)
    source_hash = sha256_of(again)

    final = make_job(again, settings, store, progress).run()

    assert final["status"] == "error"
    assert final["error_msg"] == "Recording already exists."
    assert final["error_details"]["code"] == "already_exists"
    assert final["error_details"]["recording_id"] == RECORDING_ID
    assert store_snapshot(store.root) == before
    assert staging_left(store.root) == []
    assert sha256_of(again) == source_hash
    assert progress.recording_claim(RECORDING_ID) is None
    # A failed job keeps its copy, so Retry needs no source.
    assert Path(final["spool_path"]).is_file()


def test_two_jobs_racing_in_threads_make_exactly_one_recording(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    first = build_zip(tmp_path / "first.zip", recording_files(count=40))
    second = build_tar(tmp_path / "second.tar", recording_files(count=40, size=99))
    jobs = [make_job(path, settings, store, progress) for path in (first, second)]
    barrier = threading.Barrier(2)
    results: dict[str, dict[str, Any]] = {}

    def run(job: ExtractionJob) -> None:
        job.create()
        barrier.wait()
        results[job.job_id] = job.run()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(result["status"] for result in results.values())
    assert statuses == ["done", "error"]
    loser = next(r for r in results.values() if r["status"] == "error")
    winner = next(r for r in results.values() if r["status"] == "done")
    assert loser["error_msg"] == "Recording already exists."
    assert store.recording_ids() == [RECORDING_ID]
    size = 4096 if winner["archive_name"] == "first.zip" else 99
    frame = store.recording_path(RECORDING_ID) / "camera" / "0000.jpg"
    assert frame.stat().st_size == size
    assert staging_left(store.root) == []


def test_retry_runs_from_the_spool_copy_without_the_source(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    archive = build_zip(tmp_path / "drive.zip", recording_files())
    store.recording_path(RECORDING_ID).mkdir()
    failed = make_job(archive, settings, store, progress).run()
    assert failed["error_details"]["code"] == "already_exists"
    store.recording_path(RECORDING_ID).rmdir()
    archive.unlink()

    job = retry_job(failed["job_id"], settings=settings, store=store, progress=progress)
    final = job.run()

    assert final["status"] == "done", final
    assert final["retry_of"] == failed["job_id"]
    assert final["archive_name"] == "drive.zip"
    assert final["archive_sha256"] == failed["archive_sha256"]
    assert store.has_recording(RECORDING_ID)
    assert not store.spool_dir(failed["job_id"]).exists()
    old = progress.get_extraction_progress(failed["job_id"])
    assert old is not None
    assert old["spool_path"] is None


def test_retry_without_a_spool_copy_says_so(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    from signpipe_gui.backend.errors import IngestError

    missing = make_job(tmp_path / "gone.zip", settings, store, progress).run()
    assert missing["error_details"]["code"] == "not_found"

    with pytest.raises(IngestError, match="saved copy"):
        retry_job(missing["job_id"], settings=settings, store=store, progress=progress)
    with pytest.raises(IngestError, match="no longer known"):
        retry_job("0" * 32, settings=settings, store=store, progress=progress)
