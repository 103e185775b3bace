"""The extraction job when things go wrong: Redis away, cancel, full disk, bad input.

Every failure path checks the same promises: the store untouched, no staging left,
the source byte-identical, and one sentence in ``error_msg``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from signpipe_gui.backend.errors import IngestError
from signpipe_gui.backend.ingest import ExtractionJob, retry_job
from signpipe_gui.backend.progress import RedisProgressService
from signpipe_gui.backend.settings import Settings, replace
from signpipe_gui.backend.store import RecordingStore
from tests.test_ingest_support import (
    RECORDING_ID,
    RestartableRedis,
    build_tar,
    build_zip,
    member_bytes,
    recording_files,
    sha256_of,
    staging_left,
    store_snapshot,
)


class SlowJob(ExtractionJob):
    """A job whose extraction takes a little while per file, so tests can act mid-way.

    Used with compressed tars, which are extracted by one thread in member order.
    """

    file_delay = 0.004

    def _on_extract_progress(self, files_done: int, bytes_done: int) -> None:
        time.sleep(self.file_delay)
        super()._on_extract_progress(files_done, bytes_done)


@pytest.fixture
def progress(redis_client: redis.Redis) -> Iterator[RedisProgressService]:
    service = RedisProgressService(redis_client)
    yield service
    service.close()


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def assert_nothing_changed(
    store: RecordingStore, before: dict[str, int], archive: Path, source_hash: str
) -> None:
    assert store_snapshot(store.root) == before
    assert staging_left(store.root) == []
    assert sha256_of(archive) == source_hash


def assert_one_sentence(message: str) -> None:
    assert message.endswith(".")
    assert "Traceback" not in message
    assert "\n" not in message


def test_job_survives_a_redis_restart_while_extracting(
    tmp_path: Path, store: RecordingStore
) -> None:
    server = RestartableRedis(tmp_path / "redis")
    server.start()
    client = server.client()
    service = RedisProgressService(client)
    settings = Settings(data_dir=tmp_path / "data", store=store.root)
    archive = build_tar(
        tmp_path / "drive.tgz", recording_files(count=200, size=2000), "w:gz"
    )
    job = SlowJob(archive, settings=settings, store=store, progress=service)
    job.create()
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(job.run()))

    try:
        runner.start()
        wait_for(lambda: job.snapshot()["extracted_files"] > 5)
        server.stop()
        # The extraction goes on while Redis is away, to the very end, and the final
        # state waits for Redis instead of being lost.
        wait_for(lambda: job.snapshot()["status"] == "done")
        assert runner.is_alive()
        assert service.is_degraded
        server.start()
        runner.join(timeout=30)
        assert not runner.is_alive()

        stored = service.get_extraction_progress(job.job_id)
        assert stored is not None
        assert stored["status"] == "done"
        assert stored["progress_percent"] == 100
        assert stored["extracted_files"] == 202
        assert stored["recording_id"] == RECORDING_ID
        assert service.list_job_ids() == [job.job_id]
        assert result["status"] == "done"
        assert store.has_recording(RECORDING_ID)
    finally:
        service.close()
        client.close()
        server.stop()


def test_final_state_gives_up_after_the_configured_wait(
    tmp_path: Path, store: RecordingStore, caplog: pytest.LogCaptureFixture
) -> None:
    server = RestartableRedis(tmp_path / "redis")
    server.start()
    client = server.client()
    service = RedisProgressService(client)
    settings = Settings(data_dir=tmp_path / "data", store=store.root)
    archive = build_tar(
        tmp_path / "drive.tgz", recording_files(count=100, size=100), "w:gz"
    )
    job = SlowJob(
        archive,
        settings=settings,
        store=store,
        progress=service,
        final_publish_timeout=0.5,
    )
    job.create()
    runner = threading.Thread(target=job.run)
    try:
        runner.start()
        wait_for(lambda: job.snapshot()["extracted_files"] > 5)
        server.stop()
        started = time.monotonic()
        runner.join(timeout=30)

        assert time.monotonic() - started < 5
        assert job.snapshot()["status"] == "done"
        assert store.has_recording(RECORDING_ID)
        assert "final state was not stored" in caplog.text
    finally:
        service.close()
        client.close()
        server.stop()


def test_cancel_mid_extraction_leaves_nothing_behind(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    archive = build_tar(tmp_path / "drive.tgz", recording_files(count=200), "w:gz")
    source_hash = sha256_of(archive)
    before = store_snapshot(store.root)
    job = SlowJob(archive, settings=settings, store=store, progress=progress)
    job.create()
    result: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: result.update(job.run()))

    runner.start()
    wait_for(lambda: job.snapshot()["extracted_files"] > 10)
    job.cancel()
    runner.join(timeout=30)

    assert result["status"] == "cancelled"
    assert result["error_details"] == {"code": "cancelled"}
    assert 30 < result["progress_percent"] < 100
    stored = progress.get_extraction_progress(job.job_id)
    assert stored is not None
    assert stored["status"] == "cancelled"
    assert_nothing_changed(store, before, archive, source_hash)
    assert not store.spool_dir(job.job_id).exists()
    assert progress.recording_claim(RECORDING_ID) is None


def test_cancel_before_start_ends_cancelled_at_once(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    archive = build_zip(tmp_path / "drive.zip", recording_files())
    job = ExtractionJob(archive, settings=settings, store=store, progress=progress)
    job.create()
    job.cancel()

    final = job.run()

    assert final["status"] == "cancelled"
    assert store.recording_ids() == []


@contextlib.contextmanager
def small_file_system(path: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size``; skips the test where mounting is not allowed."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root; the disk-full test needs it")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_disk_filling_up_mid_extraction_fails_cleanly(
    tmp_path: Path, settings: Settings, progress: RedisProgressService
) -> None:
    with small_file_system(tmp_path / "small", "40m") as mount:
        store = RecordingStore(mount / "store")
        store.ensure()
        archive = build_tar(
            tmp_path / "drive.tgz", recording_files(count=100, size=50_000), "w:gz"
        )
        source_hash = sha256_of(archive)
        job = SlowJob(
            archive,
            settings=replace(settings, store=store.root),
            store=store,
            progress=progress,
        )
        job.create()
        result: dict[str, Any] = {}
        runner = threading.Thread(target=lambda: result.update(job.run()))

        runner.start()
        wait_for(lambda: job.snapshot()["extracted_files"] > 5)
        # Another program takes the rest of the disk while the job extracts.
        filler = mount / "other-program.bin"
        with contextlib.suppress(OSError), filler.open("wb") as fh:
            while True:
                fh.write(bytes(1024 * 1024))
        runner.join(timeout=30)
        filler.unlink()

        assert result["status"] == "error", result
        assert result["error_details"]["code"] == "no_space"
        assert_one_sentence(result["error_msg"])
        assert store.recording_ids() == []
        assert staging_left(store.root) == []
        assert sha256_of(archive) == source_hash
        assert progress.recording_claim(RECORDING_ID) is None


def test_too_little_free_space_is_refused_before_writing(
    tmp_path: Path, settings: Settings, progress: RedisProgressService
) -> None:
    with small_file_system(tmp_path / "small", "24m") as mount:
        store = RecordingStore(mount / "store")
        store.ensure()
        # 12 MB of zeros: a small archive that needs more room than is left.
        files = {f"{RECORDING_ID}/video.bin": bytes(12 * 1024 * 1024)}
        archive = build_zip(tmp_path / "drive.zip", files)
        job = ExtractionJob(
            archive,
            settings=replace(
                settings, store=store.root, max_member_ratio=1e6, max_total_ratio=1e6
            ),
            store=store,
            progress=progress,
        )

        final = job.run()

        assert final["error_details"]["code"] == "no_space"
        assert final["error_details"]["needed"] > final["error_details"]["limit"]
        assert final["error_msg"] == (
            "There is not enough free space in the store for this recording."
        )
        assert store.recording_ids() == []
        assert staging_left(store.root) == []


def test_a_file_that_is_no_archive_is_refused_from_its_bytes(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    archive = tmp_path / "drive.zip"
    archive.write_bytes(b"these are notes, not an archive\n" * 100)
    source_hash = sha256_of(archive)
    before = store_snapshot(store.root)

    final = ExtractionJob(
        archive, settings=settings, store=store, progress=progress
    ).run()

    assert final["error_details"]["code"] == "unknown_format"
    assert_one_sentence(final["error_msg"])
    assert_nothing_changed(store, before, archive, source_hash)
    assert not store.spool_dir(final["job_id"]).exists()


def test_a_missing_or_empty_source_is_an_error_in_words(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    empty = tmp_path / "empty.zip"
    empty.write_bytes(b"")

    missing = ExtractionJob(
        tmp_path / "nowhere.zip", settings=settings, store=store, progress=progress
    ).run()
    blank = ExtractionJob(
        empty, settings=settings, store=store, progress=progress
    ).run()

    assert missing["error_details"]["code"] == "not_found"
    assert missing["error_msg"] == "The archive 'nowhere.zip' was not found."
    assert blank["error_details"]["code"] == "empty"
    assert store.recording_ids() == []


def test_a_faulty_archive_fails_with_its_code_and_keeps_no_spool_copy(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    files = recording_files(count=3)
    files["2023_01_01_00_00_00_000/extra.jpg"] = member_bytes(9, 100)
    archive = build_zip(tmp_path / "two-roots.zip", files)
    source_hash = sha256_of(archive)
    before = store_snapshot(store.root)

    final = ExtractionJob(
        archive, settings=settings, store=store, progress=progress
    ).run()

    assert final["status"] == "error"
    assert final["error_details"]["code"] == "multiple_roots"
    assert_one_sentence(final["error_msg"])
    assert_nothing_changed(store, before, archive, source_hash)
    # A retry of the same bytes would fail alike: the copy is not worth its space.
    assert final["spool_path"] is None
    assert not store.spool_dir(final["job_id"]).exists()
    with pytest.raises(IngestError, match="faulty"):
        retry_job(final["job_id"], settings=settings, store=store, progress=progress)


def test_an_archive_over_a_limit_keeps_its_copy_for_a_retry_with_a_higher_one(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    archive = build_zip(tmp_path / "drive.zip", recording_files(count=3))
    strict = replace(settings, max_files=2)

    final = ExtractionJob(
        archive, settings=strict, store=store, progress=progress
    ).run()

    assert final["error_details"]["code"] == "too_many_files"
    assert Path(final["spool_path"]).read_bytes() == archive.read_bytes()
    again = retry_job(
        final["job_id"], settings=settings, store=store, progress=progress
    ).run()
    assert again["status"] == "done", again.get("error_msg")


def test_an_unexpected_error_is_internal_with_a_generic_sentence(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    archive = build_zip(tmp_path / "drive.zip", recording_files())
    source_hash = sha256_of(archive)
    broken = replace(settings, recording_id_pattern="(unclosed")

    final = ExtractionJob(
        archive, settings=broken, store=store, progress=progress
    ).run()

    assert final["status"] == "error"
    assert final["error_details"] == {"code": "internal"}
    assert final["error_msg"] == (
        "signpipe ran into an unexpected problem; the log has the details."
    )
    assert "failed unexpectedly" in caplog.text
    assert store.recording_ids() == []
    assert staging_left(store.root) == []
    assert sha256_of(archive) == source_hash


def test_an_unreadable_source_is_an_error_in_words(
    tmp_path: Path,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
) -> None:
    if os.geteuid() == 0:
        # root reads files whatever their mode; a folder stands in for a bad file.
        archive = tmp_path / "folder.zip"
        archive.mkdir()
    else:
        archive = build_zip(tmp_path / "locked.zip", recording_files())
        archive.chmod(0)

    final = ExtractionJob(
        archive, settings=settings, store=store, progress=progress
    ).run()

    assert final["error_details"]["code"] == "unreadable"
    assert_one_sentence(final["error_msg"])


def test_redis_away_at_claim_time_fails_in_words_after_the_wait(
    tmp_path: Path, store: RecordingStore
) -> None:
    server = RestartableRedis(tmp_path / "redis")
    server.start()
    client = server.client()
    service = RedisProgressService(client)
    settings = Settings(data_dir=tmp_path / "data", store=store.root)
    archive = build_zip(tmp_path / "drive.zip", recording_files())
    source_hash = sha256_of(archive)
    before = store_snapshot(store.root)
    server.stop()
    try:
        job = ExtractionJob(
            archive,
            settings=settings,
            store=store,
            progress=service,
            final_publish_timeout=0.5,
        )

        final = job.run()

        assert final["error_details"]["code"] == "redis_unavailable"
        assert final["error_msg"] == (
            "Redis could not be reached to reserve the recording id."
        )
        assert_nothing_changed(store, before, archive, source_hash)
    finally:
        service.close()
        client.close()


def test_a_store_that_cannot_be_created_is_an_error_in_words(
    tmp_path: Path, settings: Settings, progress: RedisProgressService
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store should be")
    store = RecordingStore(blocker / "store")
    archive = build_zip(tmp_path / "drive.zip", recording_files())

    final = ExtractionJob(
        archive,
        settings=replace(settings, store=store.root),
        store=store,
        progress=progress,
    ).run()

    assert final["error_details"]["code"] == "write_failed"
    assert_one_sentence(final["error_msg"])
    assert blocker.read_text() == "a file where the store should be"


def test_progress_ticks_do_not_wait_for_a_stalled_redis(tmp_path: Path) -> None:
    from signpipe_gui.backend.job_report import JobReport
    from signpipe_gui.backend.jobs import Phase

    server = RestartableRedis(tmp_path / "redis")
    server.start()
    client = server.client()
    service = RedisProgressService(client)
    report = JobReport(service, "a" * 32, interval=0.0, final_timeout=10)
    report.create({"job_id": "a" * 32, "created_at": time.time()})
    report.enter(Phase.RUNNING, bytes_total=1000)
    stalling_client = server.client(socket_timeout=5)
    try:
        stalling_client.execute_command("DEBUG", "SLEEP", "0")
    except redis.ResponseError:
        pytest.skip("this redis-server does not allow DEBUG SLEEP")
    staller = threading.Thread(
        target=lambda: stalling_client.execute_command("DEBUG", "SLEEP", "0.6")
    )
    try:
        staller.start()
        time.sleep(0.1)
        started = time.monotonic()
        for done in range(0, 1001, 10):
            report.advance(Phase.RUNNING, done, 1000)
        ticking = time.monotonic() - started
        assert report.publish_final()
        staller.join()

        assert ticking < 0.2
        stored = service.get_extraction_progress("a" * 32)
        assert stored is not None
        assert stored["bytes_done"] == 1000
        assert stored["progress_percent"] == 100
    finally:
        service.close()
        client.close()
        stalling_client.close()
        server.stop()
