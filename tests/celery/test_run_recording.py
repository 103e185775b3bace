"""The task's checks, run in this process on the real Redis and the real pipeline."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from signpipe_gui.backend import outbox
from signpipe_gui.backend.dispatch import OutboxRedriver, redrive_outbox
from signpipe_gui.backend.pipeline_lock import PipelineLock, PipelineTiming, lock_key
from signpipe_gui.backend.pipeline_runner import (
    Outcome,
    PipelineFailed,
    PipelineInputError,
    RunLater,
    run_recording,
)
from signpipe_gui.backend.pipeline_state import read_mirror
from signpipe_gui.backend.recovery import recover_stale_runs
from signpipe_gui.backend.settings import Settings
from signpipe_gui.backend.status_file import read_status, write_status

from .helpers import RECORDING_ID, make_recording, read_json, wait_for

TASK = "task-one"
TIMING = PipelineTiming(lock_ttl=3.0, heartbeat_interval=0.2, update_interval=0.05)


def _run(settings: Settings, client: redis.Redis, recording_id: str = RECORDING_ID):
    return run_recording(
        settings, recording_id, task_id=TASK, client=client, timing=TIMING
    )


def _left_running(settings: Settings, *, task_id: str, attempt: int, age: float):
    recording = make_recording(settings.store_path, frames=2)
    status = read_status(recording)
    status.update(
        status="running",
        task_id=task_id,
        attempt=attempt,
        heartbeat_at=time.time() - age,
        stage="detect",
    )
    write_status(recording, status)
    return recording


def test_a_run_heartbeats_renews_its_lock_and_releases_it(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    # The lock lives a fraction of the run (800 frames take 2-4 s on two cores, the
    # lock 1 s): only renewal keeps the run going. A heartbeat every 0.1 s leaves a
    # loaded CI machine ten chances to renew before the lock would lapse.
    recording = make_recording(queue_settings.store_path, frames=800)
    timing = PipelineTiming(lock_ttl=1.0, heartbeat_interval=0.1, update_interval=0.05)
    beats: set[float] = set()
    lock_seen: list[tuple[float, bytes]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            status = read_json(recording / "status.json")
            if status.get("status") == "running" and status.get("heartbeat_at"):
                beats.add(status["heartbeat_at"])
            token = redis_client.get(lock_key(RECORDING_ID))
            if token is not None:
                lock_seen.append((time.monotonic(), token))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run_recording(
            queue_settings,
            RECORDING_ID,
            task_id=TASK,
            client=redis_client,
            timing=timing,
        )
    finally:
        stop.set()
        watcher.join()

    assert result.outcome is Outcome.DONE
    assert len(beats) >= 3
    # One lock, set once, seen for longer than it lives without renewal.
    assert len({token for _, token in lock_seen}) == 1
    assert lock_seen[-1][0] - lock_seen[0][0] > timing.lock_ttl
    status = read_status(recording)
    assert status["status"] == "done"
    assert status["attempt"] == 1
    assert redis_client.exists(lock_key(RECORDING_ID)) == 0
    assert read_mirror(redis_client, RECORDING_ID)["status"] == "done"


def test_a_run_that_loses_its_lock_stops_and_leaves_the_status_alone(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    recording = make_recording(queue_settings.store_path, frames=400)
    timing = PipelineTiming(lock_ttl=5.0, heartbeat_interval=0.05, update_interval=0.05)

    def steal() -> None:
        wait_for(
            lambda: read_json(recording / "status.json").get("status") == "running",
            10,
            "the run to start",
            interval=0.005,
        )
        redis_client.set(lock_key(RECORDING_ID), "task-thief:token", px=5000)

    thief = threading.Thread(target=steal)
    thief.start()
    result = run_recording(
        queue_settings, RECORDING_ID, task_id=TASK, client=redis_client, timing=timing
    )
    thief.join()

    assert result.outcome is Outcome.SKIPPED
    assert result.reason == "lost its lock"
    assert read_status(recording)["status"] == "running"
    assert not (recording / "results" / "summary.json").exists()
    assert redis_client.get(lock_key(RECORDING_ID)) == b"task-thief:token"


def test_run_left_by_a_dead_worker_runs_again_with_the_next_attempt(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    recording = _left_running(queue_settings, task_id=TASK, attempt=1, age=60)

    result = _run(queue_settings, redis_client)

    assert result.outcome is Outcome.DONE
    assert result.attempt == 2
    assert read_status(recording)["status"] == "done"


def test_run_left_running_too_often_is_marked_failed_not_run(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    recording = _left_running(queue_settings, task_id=TASK, attempt=3, age=60)

    result = _run(queue_settings, redis_client)

    assert result.outcome is Outcome.GAVE_UP
    status = read_status(recording)
    assert status["status"] == "error"
    assert status["error_msg"] == (
        "The pipeline stopped 3 times without finishing (its worker was lost), "
        "so it was not started again."
    )
    assert status["error_details"] == {"code": "worker_lost", "attempts": 3}
    assert not (recording / "results").exists()


def test_run_with_a_fresh_heartbeat_but_no_lock_is_tried_later(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    recording = _left_running(queue_settings, task_id=TASK, attempt=1, age=0.5)

    with pytest.raises(RunLater) as waited:
        _run(queue_settings, redis_client)

    assert 1 <= waited.value.countdown <= TIMING.stale_after + 1
    assert read_status(recording)["status"] == "running"
    assert redis_client.exists(lock_key(RECORDING_ID)) == 0


def test_lock_held_by_another_task_means_this_delivery_does_nothing(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    recording = make_recording(queue_settings.store_path, frames=2)
    before = read_status(recording)
    other = PipelineLock(redis_client, RECORDING_ID, "task-other", ttl=30)
    assert other.acquire()

    result = _run(queue_settings, redis_client)

    assert result.outcome is Outcome.SKIPPED
    assert "task-other" in (result.reason or "")
    assert read_status(recording) == before
    assert other.holder() == "task-other"


def test_lock_held_by_an_earlier_delivery_of_this_task_is_waited_for(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    make_recording(queue_settings.store_path, frames=2)
    earlier = PipelineLock(redis_client, RECORDING_ID, TASK, ttl=30)
    assert earlier.acquire()

    with pytest.raises(RunLater) as waited:
        _run(queue_settings, redis_client)

    assert waited.value.countdown == pytest.approx(TIMING.lock_ttl + 1)


def test_task_superseded_by_a_newer_dispatch_does_nothing(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    recording = make_recording(queue_settings.store_path, frames=2)
    status = read_status(recording)
    status.update(status="queued", task_id="task-newer")
    write_status(recording, status)

    result = _run(queue_settings, redis_client)

    assert result.outcome is Outcome.SKIPPED
    assert result.reason == "superseded by task task-newer"
    assert read_status(recording)["status"] == "queued"


def test_redelivery_after_the_run_ended_does_not_run_again(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    recording = make_recording(queue_settings.store_path, frames=2)
    assert _run(queue_settings, redis_client).outcome is Outcome.DONE
    finished = read_status(recording)["finished_at"]

    again = _run(queue_settings, redis_client)

    assert again.outcome is Outcome.SKIPPED
    assert read_status(recording)["finished_at"] == finished


def test_invalid_recording_id_fails_cleanly_touching_nothing(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    for bad in ("../../etc", "2024_13_40_99_99_99_999", "", "x" * 500):
        with pytest.raises(PipelineInputError) as failed:
            _run(queue_settings, redis_client, bad)
        assert str(failed.value).endswith("is not a valid recording id.")
        assert len(str(failed.value)) < 120
    assert redis_client.keys("pipeline:*") == []


def test_missing_recording_folder_fails_with_a_sentence_in_the_mirror(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    with pytest.raises(PipelineInputError) as failed:
        _run(queue_settings, redis_client)

    message = f"Recording {RECORDING_ID} is not in the store at "
    assert str(failed.value).startswith(message)
    mirror = read_mirror(redis_client, RECORDING_ID)
    assert mirror["status"] == "error"
    assert mirror["error_msg"] == str(failed.value)
    assert not (queue_settings.store_path / RECORDING_ID).exists()


def test_pipeline_error_ends_error_with_its_sentence_in_status_json(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    recording = make_recording(queue_settings.store_path, frames=2)
    for frame in (recording / "camera").iterdir():
        frame.unlink()

    with pytest.raises(PipelineFailed) as failed:
        _run(queue_settings, redis_client)

    status = read_status(recording)
    assert status["status"] == "error"
    assert status["error_msg"] == str(failed.value)
    assert status["error_msg"].endswith(".")
    assert redis_client.exists(lock_key(RECORDING_ID)) == 0


def test_redrive_sends_what_waits_and_drops_what_no_longer_does(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    waiting = make_recording(queue_settings.store_path, frames=1)
    status = read_status(waiting)
    status.update(status="not_queued", error_msg="Redis did not answer.")
    write_status(waiting, status)
    outbox.add(queue_settings, RECORDING_ID, job_id=None, reason="down")
    done_id = "2024_05_21_08_00_00_000"
    done = make_recording(queue_settings.store_path, done_id, frames=1)
    status = read_status(done)
    status.update(status="done")
    write_status(done, status)
    outbox.add(queue_settings, done_id, job_id=None, reason="down")
    gone_id = "2024_05_22_08_00_00_000"
    outbox.add(queue_settings, gone_id, job_id=None, reason="down")

    assert redrive_outbox(queue_settings) == 1

    requeued = read_status(waiting)
    assert requeued["status"] == "queued"
    assert requeued["error_msg"] is None
    assert read_status(done)["status"] == "done"
    assert outbox.pending(queue_settings, redis_client) == []
    assert redrive_outbox(queue_settings) == 0


def test_recovery_sends_a_dead_run_again_counting_its_attempt(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    recording = _left_running(queue_settings, task_id="task-dead", attempt=1, age=60)

    assert recover_stale_runs(queue_settings).sent == 1

    queued = read_status(recording)
    assert queued["status"] == "queued"
    assert queued["task_id"] not in (None, "task-dead")
    assert queued["attempt"] == 1
    result = run_recording(
        queue_settings,
        RECORDING_ID,
        task_id=queued["task_id"],
        client=redis_client,
        timing=TIMING,
    )
    assert result.outcome is Outcome.DONE
    assert result.attempt == 2
    # The dead run's own message, if it comes back, finds a newer task and stops.
    late = run_recording(
        queue_settings, RECORDING_ID, task_id="task-dead", client=redis_client
    )
    assert late.outcome is Outcome.SKIPPED
    assert read_status(recording)["status"] == "done"


def test_recovery_leaves_live_runs_and_gives_up_on_runs_that_keep_dying(
    queue_settings: Settings, redis_client: redis.Redis
) -> None:
    fresh = _left_running(queue_settings, task_id="task-alive", attempt=1, age=1)
    locked_id, dying_id = "2024_05_21_08_00_00_000", "2024_05_22_08_00_00_000"
    locked = make_recording(queue_settings.store_path, locked_id, frames=1)
    write_status(
        locked,
        {"status": "running", "task_id": "task-slow", "heartbeat_at": time.time() - 60},
    )
    assert PipelineLock(redis_client, locked_id, "task-slow", ttl=30).acquire()
    dying = make_recording(queue_settings.store_path, dying_id, frames=1)
    write_status(
        dying,
        {
            "recording_id": dying_id,
            "status": "running",
            "task_id": "task-third",
            "attempt": 3,
            "heartbeat_at": time.time() - 60,
        },
    )

    before = time.time()
    found = recover_stale_runs(queue_settings)

    assert found.sent == 0
    # The next look is due when the fresh run would be stale, were it dead now.
    stale_after = PipelineTiming.from_settings(queue_settings).stale_after
    assert found.next_stale_at is not None
    assert before < found.next_stale_at <= before + 2 * stale_after
    assert read_status(fresh)["status"] == "running"
    assert read_status(locked)["status"] == "running"
    gave_up = read_status(dying)
    assert gave_up["status"] == "error"
    assert gave_up["error_details"] == {"code": "worker_lost", "attempts": 3}


def test_the_next_look_for_dead_runs_follows_the_runs_seen(
    queue_settings: Settings,
) -> None:
    redriver = OutboxRedriver(queue_settings, interval=5.0, recovery_interval=300.0)

    def due_in(next_stale_at: float | None) -> float:
        return redriver._next_recovery(next_stale_at) - time.monotonic()

    # A run seen running turns stale in 20 s: look again just after, not in 5 min.
    assert 20 < due_in(time.time() + 20) <= 21.5
    assert 299 < due_in(None) <= 300
    # Never busier than the outbox's own pace, never later than the interval.
    assert 4.9 < due_in(time.time() - 100) <= 5
    assert 299 < due_in(time.time() + 10_000) <= 300
