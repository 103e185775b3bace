"""The Celery app's settings, the worker command, bad messages, and the supervisor."""

from __future__ import annotations

import os
import signal
import ssl
import sys
import time
from pathlib import Path

import pytest
import redis
from celery.result import AsyncResult

from signpipe_gui.backend import worker_process
from signpipe_gui.backend.celery_app import (
    PUBLISH_RETRY_POLICY,
    RUN_PIPELINE_TASK,
    app_for,
    celery_config,
    create_app,
)
from signpipe_gui.backend.pipeline_state import read_mirror
from signpipe_gui.backend.settings import Settings, replace
from signpipe_gui.backend.worker_process import (
    WorkerSupervisor,
    worker_command,
    worker_env,
)
from signpipe_gui.commands.worker import FAST_START_FLAGS, default_pool, worker_argv

from .helpers import RECORDING_ID, make_recording, wait_for, wait_for_status

URL = "redis://:secret@redis.lab.example:6379/0"


def test_config_is_reliable_json_only_with_the_visibility_timeout_everywhere() -> None:
    settings = Settings(visibility_timeout=7200, pipeline_time_limit=3600)

    config = celery_config(settings, URL)

    assert config["broker_url"] == config["result_backend"] == URL
    assert config["accept_content"] == ["json"]
    assert config["result_accept_content"] == ["json"]
    assert config["task_serializer"] == config["result_serializer"] == "json"
    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["broker_transport_options"]["visibility_timeout"] == 7200
    assert config["result_backend_transport_options"]["visibility_timeout"] == 7200
    assert config["task_soft_time_limit"] == 3600
    assert config["task_time_limit"] > 3600
    assert config["result_expires"] > 0
    assert config["broker_connection_timeout"] == settings.redis_connect_timeout
    assert config["broker_transport_options"]["socket_timeout"] == 5.0
    assert config["redis_socket_timeout"] == 5.0
    policy = config["task_publish_retry_policy"]
    assert policy == PUBLISH_RETRY_POLICY
    start, step = policy["interval_start"], policy["interval_step"]
    worst = sum(
        min(start + n * step, policy["interval_max"])
        for n in range(policy["max_retries"])
    )
    assert worst <= 2.5
    assert "broker_use_ssl" not in config


def test_rediss_url_requires_a_valid_certificate_unless_it_says_otherwise() -> None:
    settings = Settings()
    secure = celery_config(settings, "rediss://:pw@redis.lab.example:6380/0")
    assert secure["broker_use_ssl"] == {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    assert secure["redis_backend_use_ssl"] == {"ssl_cert_reqs": ssl.CERT_REQUIRED}

    explicit = "rediss://:pw@redis.lab.example:6380/0?ssl_cert_reqs=CERT_NONE"
    assert "broker_use_ssl" not in celery_config(settings, explicit)

    # Celery accepts the configuration (it refuses a bare rediss:// URL otherwise).
    app = create_app(settings, "rediss://:pw@redis.lab.example:6380/0")
    assert app.backend.connparams["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    app.close()


def test_app_knows_the_task_and_carries_the_worker_settings(
    queue_settings: Settings,
) -> None:
    app = app_for(queue_settings)

    assert RUN_PIPELINE_TASK in app.tasks
    assert app.settings is queue_settings
    assert app_for(queue_settings) is app
    other = app_for(replace(queue_settings, visibility_timeout=99))
    assert other is not app


def test_worker_argv_starts_fast_and_passes_celery_options_through() -> None:
    argv = worker_argv(
        concurrency=3,
        pool="prefork",
        log_level="info",
        extra=["--max-tasks-per-child=5"],
    )

    assert argv[0] == "worker"
    assert "--concurrency=3" in argv
    assert "--pool=prefork" in argv
    assert "--loglevel=INFO" in argv
    assert set(FAST_START_FLAGS) <= set(argv)
    assert any(a.startswith("--hostname=signpipe-") for a in argv)
    assert argv[-1] == "--max-tasks-per-child=5"

    named = worker_argv(
        concurrency=1,
        pool="solo",
        log_level="INFO",
        extra=["--hostname", "lab-a@%h"],
        fast_start=False,
    )
    assert not any(a.startswith("--hostname=") for a in named)
    assert not set(FAST_START_FLAGS) & set(named)


def test_default_pool_is_prefork_here_and_solo_or_threads_on_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert default_pool(4) == "prefork"
    monkeypatch.setattr(sys, "platform", "win32")
    assert default_pool(1) == "solo"
    assert default_pool(4) == "threads"


def test_worker_command_uses_the_same_executable_frozen_or_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert worker_command() == [sys.executable, "-m", "signpipe_gui", "worker"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert worker_command(["-c", "2"]) == [sys.executable, "worker", "-c", "2"]


def test_worker_env_points_at_the_settings_without_putting_the_url_in_argv(
    queue_settings: Settings,
) -> None:
    env = worker_env(queue_settings, base={"SIGNPIPE_REDIS_URL": "redis://stale"})

    assert env["SIGNPIPE_REDIS_URL"] == queue_settings.redis_url
    assert env["SIGNPIPE_STORE"] == str(queue_settings.store_path)
    assert env["SIGNPIPE_VISIBILITY_TIMEOUT"] == "6"
    assert not any("secret" in part for part in worker_command())
    embedded = worker_env(replace(queue_settings, redis_url=""), base=dict(env))
    assert "SIGNPIPE_REDIS_URL" not in embedded


def test_worker_fails_bad_messages_cleanly(
    queue_settings: Settings, redis_client: redis.Redis, start_worker
) -> None:
    worker = start_worker(queue_settings)
    task = app_for(queue_settings).tasks[RUN_PIPELINE_TASK]
    empty = make_recording(queue_settings.store_path, frames=1)
    for frame in (empty / "camera").iterdir():
        frame.unlink()

    invalid = task.apply_async(("../../etc/passwd",))
    missing = task.apply_async(("2024_01_02_03_04_05_006",))
    no_frames = task.apply_async((RECORDING_ID,))

    for sent in (invalid, missing, no_frames):
        wait_for(lambda s=sent: s.ready(), 20, f"task {sent.id} to end")
        assert sent.state == "FAILURE"
    assert "is not a valid recording id." in str(invalid.result)
    assert "is not in the store at" in str(missing.result)
    mirror = read_mirror(redis_client, "2024_01_02_03_04_05_006")
    assert mirror["error_msg"] == str(missing.result)
    status = wait_for_status(empty, {"error"})
    assert status["error_msg"] == str(no_frames.result)
    # Expected failures are logged as one line, not as a traceback.
    assert "Traceback" not in worker.text()
    assert isinstance(AsyncResult(invalid.id, app=task.app).result, Exception)


def test_supervisor_restarts_a_dead_worker_and_stops_it_on_quit(
    queue_settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "supervised.log"
    exits: list[tuple[int, Path]] = []
    supervisor = WorkerSupervisor(
        queue_settings,
        extra_args=["--concurrency", "1"],
        log_file=log,
        stop_grace=5,
        on_exit=lambda code, path: exits.append((code, path)),
    )
    supervisor.start()
    try:
        wait_for(lambda: " ready." in log.read_text(), 30, "the worker to be ready")
        first = supervisor.pid
        assert first is not None
        os.killpg(first, signal.SIGKILL)

        wait_for(
            lambda: supervisor.pid != first and supervisor.is_running,
            15,
            "a new worker",
        )
        second = supervisor.pid
        assert supervisor.restarts == 1
        assert exits == [(-signal.SIGKILL, log)]
        wait_for(lambda: log.read_text().count(" ready.") >= 2, 30, "it to be ready")
    finally:
        supervisor.stop()

    assert not supervisor.is_running
    assert second is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(second, 0)
    time.sleep(0.2)
    assert not supervisor.is_running


def test_supervisor_log_defaults_to_the_data_folder_and_stays_bounded(
    queue_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    supervisor = WorkerSupervisor(queue_settings)
    log = queue_settings.data_dir / "logs" / "worker.log"
    assert supervisor.log_file == log
    monkeypatch.setattr(worker_process, "LOG_MAX_BYTES", 10)
    log.parent.mkdir(parents=True)
    log.write_text("an old worker's long log\n")

    worker_process._rotate(log)

    assert not log.exists()
    assert log.with_suffix(".log.1").read_text() == "an old worker's long log\n"
