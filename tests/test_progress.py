"""RedisProgressService against real redis-servers: contract, expiry, merge, outages."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from signpipe_gui.backend.progress import (
    JOBS_INDEX_KEY,
    RedisProgressService,
    claim_key,
    job_key,
)
from tests.test_ingest_support import RestartableRedis


@pytest.fixture
def progress(redis_client: redis.Redis) -> Iterator[RedisProgressService]:
    service = RedisProgressService(redis_client, ttl_seconds=3600)
    yield service
    service.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    server = RestartableRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


NOW = float(int(time.time()))


def _job(job_id: str, created_at: float, **fields: object) -> dict[str, object]:
    """A job object; ``created_at`` counts seconds from a recent start time."""
    return {
        "job_id": job_id,
        "status": "queued",
        "progress_percent": 0,
        "created_at": NOW + created_at,
        **fields,
    }


def test_create_job_is_listed_newest_first_and_expires(
    progress: RedisProgressService, redis_client: redis.Redis
) -> None:
    progress.create_job(_job("a" * 32, 100.0, archive_name="one.zip"))
    progress.create_job(_job("b" * 32, 300.0, archive_name="two.zip"))
    progress.create_job(_job("c" * 32, 200.0, archive_name="three.zip"))

    assert progress.list_job_ids() == ["b" * 32, "c" * 32, "a" * 32]
    assert progress.list_job_ids(limit=1, offset=1) == ["c" * 32]
    assert [job["archive_name"] for job in progress.list_jobs(limit=2)] == [
        "two.zip",
        "three.zip",
    ]
    for key in (job_key("a" * 32), JOBS_INDEX_KEY):
        assert 3500 < redis_client.ttl(key) <= 3600


def test_old_index_entries_are_trimmed_with_the_ttl(
    progress: RedisProgressService,
) -> None:
    progress.create_job(_job("a" * 32, -7200))
    progress.create_job(_job("b" * 32, 0))

    assert progress.list_job_ids() == ["b" * 32]


def test_get_status_has_the_original_shape(progress: RedisProgressService) -> None:
    progress.create_job(_job("a" * 32, 1.0))
    progress.set_extraction_progress(
        "a" * 32,
        _job(
            "a" * 32,
            1.0,
            status="running",
            phase="running",
            progress_percent=65.5,
            total_files=100,
            extracted_files=50,
        ),
    )

    status = progress.get_status("a" * 32)

    assert status is not None
    assert list(status)[:4] == ["status", "phase", "percent", "message"]
    assert status["percent"] == 65
    assert status["message"] == "Extracting files..."
    assert status["extracted_files"] == 50
    assert progress.get_status("f" * 32) is None


def test_percent_never_goes_backwards(progress: RedisProgressService) -> None:
    progress.create_job(_job("a" * 32, 1.0))
    progress.update_extraction_progress("a" * 32, progress_percent=40)
    progress.update_extraction_progress("a" * 32, progress_percent=20, phase="x")
    progress.set_extraction_progress("a" * 32, _job("a" * 32, 1.0, status="error"))

    job = progress.get_extraction_progress("a" * 32)
    assert job is not None
    assert job["progress_percent"] == 40
    assert job["status"] == "error"


def test_updates_from_two_writers_lose_no_field(
    progress: RedisProgressService, redis_server: object, redis_client: redis.Redis
) -> None:
    other = RedisProgressService(
        redis.Redis(connection_pool=redis_client.connection_pool)
    )
    progress.create_job(_job("a" * 32, 1.0))

    def write(service: RedisProgressService, prefix: str) -> None:
        for index in range(200):
            service.update_extraction_progress("a" * 32, **{f"{prefix}{index}": index})

    threads = [
        threading.Thread(target=write, args=(progress, "x")),
        threading.Thread(target=write, args=(other, "y")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()

    job = progress.get_extraction_progress("a" * 32)
    assert job is not None
    assert all(job[f"x{i}"] == i and job[f"y{i}"] == i for i in range(200))


def test_get_jobs_reads_many_in_one_call(progress: RedisProgressService) -> None:
    progress.create_job(_job("a" * 32, 1.0))
    progress.create_job(_job("b" * 32, 2.0))

    jobs = progress.get_jobs(["a" * 32, "f" * 32, "b" * 32])

    assert [job and job["job_id"] for job in jobs] == ["a" * 32, None, "b" * 32]
    assert progress.get_jobs([]) == []


def test_remove_job_drops_object_and_index_entry(
    progress: RedisProgressService, redis_client: redis.Redis
) -> None:
    progress.create_job(_job("a" * 32, 1.0))

    progress.remove_job("a" * 32)

    assert progress.get_extraction_progress("a" * 32) is None
    assert progress.list_job_ids() == []
    assert not redis_client.exists(job_key("a" * 32))


def test_claim_is_won_by_one_job_and_released_only_by_it(
    progress: RedisProgressService, redis_client: redis.Redis
) -> None:
    recording = "2024_05_20_23_32_53_415"

    assert progress.claim_recording(recording, "a" * 32)
    assert not progress.claim_recording(recording, "b" * 32)
    assert progress.claim_recording(recording, "a" * 32)  # refresh by the holder
    progress.release_recording(recording, "b" * 32)
    assert progress.recording_claim(recording) == "a" * 32
    assert 0 < redis_client.ttl(claim_key(recording)) <= progress.claim_ttl_seconds

    progress.release_recording(recording, "a" * 32)
    assert progress.recording_claim(recording) is None
    assert progress.claim_recording(recording, "b" * 32)


def test_claim_race_between_threads_has_one_winner(
    progress: RedisProgressService,
) -> None:
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def claim(job_id: str) -> None:
        barrier.wait()
        if progress.claim_recording("2024_05_20_23_32_53_415", job_id):
            wins.append(job_id)

    threads = [threading.Thread(target=claim, args=(f"{i:032x}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(wins) == 1


def test_writes_while_redis_is_down_return_at_once_and_arrive_later(
    private_redis: RestartableRedis,
) -> None:
    client = private_redis.client()
    service = RedisProgressService(client, ttl_seconds=3600)
    service.create_job(_job("a" * 32, 1.0, status="running"))
    private_redis.stop()

    started = time.monotonic()
    for percent in range(31, 80):
        service.update_extraction_progress("a" * 32, progress_percent=percent)
    service.update_extraction_progress("a" * 32, extracted_files=7)
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert service.is_degraded
    assert not service.flush()

    private_redis.start()
    deadline = time.monotonic() + 10
    while service.is_degraded and time.monotonic() < deadline:
        time.sleep(0.05)
    service.close()
    client.close()

    reader_client = private_redis.client()
    job = RedisProgressService(reader_client).get_extraction_progress("a" * 32)
    reader_client.close()
    assert job is not None
    assert job["progress_percent"] == 79
    assert job["extracted_files"] == 7
    assert job["status"] == "running"


def test_whole_object_is_republished_after_a_restart_that_lost_data(
    tmp_path: Path,
) -> None:
    server = RestartableRedis(tmp_path / "redis", appendonly=False)
    server.start()
    try:
        client = server.client()
        service = RedisProgressService(client, ttl_seconds=3600)
        job = _job("a" * 32, 5.0, status="running", progress_percent=50)
        service.create_job(job)
        server.stop()
        service.set_extraction_progress("a" * 32, {**job, "progress_percent": 60})
        server.start()

        assert service.flush()
        service.close()
        reader = RedisProgressService(client)
        assert reader.list_job_ids() == ["a" * 32]
        stored = reader.get_extraction_progress("a" * 32)
        reader.close()
        client.close()
        assert stored is not None
        assert stored["progress_percent"] == 60
        assert stored["created_at"] == NOW + 5.0
    finally:
        server.stop()


def test_a_running_job_refreshes_its_claim(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signpipe_gui.backend import claim as claim_module

    service = RedisProgressService(redis_client, claim_ttl_seconds=600)
    claim = claim_module.RecordingClaim(
        service, "a" * 32, cancel=threading.Event(), patience=1
    )
    claim.take("2024_05_20_23_32_53_415")
    redis_client.expire(claim_key("2024_05_20_23_32_53_415"), 5)
    monkeypatch.setattr(claim_module, "REFRESH_SECONDS", 0.0)

    claim.refresh_if_due()

    assert redis_client.ttl(claim_key("2024_05_20_23_32_53_415")) > 500
    claim.release()
    assert service.recording_claim("2024_05_20_23_32_53_415") is None
    service.close()
