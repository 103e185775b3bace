from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from signpipe_gui.backend.connection import connect, redact
from signpipe_gui.backend.redis_server import (
    RUN_FILE_NAME,
    ensure_embedded_redis,
    stop_embedded_redis,
)
from signpipe_gui.backend.settings import Settings
from signpipe_gui.cli import main


def test_second_process_reuses_running_server(tmp_path: Path) -> None:
    first = ensure_embedded_redis(tmp_path)
    try:
        second = ensure_embedded_redis(tmp_path)
        run_file = tmp_path / "redis" / RUN_FILE_NAME

        assert second.pid == first.pid
        assert stat.S_IMODE(run_file.stat().st_mode) == 0o600
        client = redis.Redis.from_url(first.url)
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
    finally:
        stop_embedded_redis(tmp_path)


def test_server_refuses_clients_without_password(tmp_path: Path) -> None:
    server = ensure_embedded_redis(tmp_path)
    try:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(
                host=server.host, port=server.port, retry=Retry(NoBackoff(), 0)
            ).ping()
    finally:
        stop_embedded_redis(tmp_path)


def test_stale_run_file_starts_a_new_server(tmp_path: Path) -> None:
    first = ensure_embedded_redis(tmp_path)
    stop_embedded_redis(tmp_path)
    (tmp_path / "redis" / RUN_FILE_NAME).write_text(
        json.dumps({"host": "127.0.0.1", "port": first.port, "password": "x", "pid": 1})
    )

    second = ensure_embedded_redis(tmp_path)
    try:
        assert redis.Redis.from_url(second.url).ping()
        assert second.password != first.password
    finally:
        stop_embedded_redis(tmp_path)


def test_password_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(data_dir=tmp_path)
    try:
        client = connect(settings)
        client.ping()
        server = ensure_embedded_redis(tmp_path)

        assert server.password not in caplog.text
        assert server.password not in repr(server)
    finally:
        stop_embedded_redis(tmp_path)


def test_redact_hides_password() -> None:
    assert redact("redis://:s3cret@lab:6379/0") == "redis://***@lab:6379/0"
    assert redact("rediss://user:s3cret@lab:6380/2") == "rediss://user:***@lab:6380/2"
    assert redact("redis://lab:6379/0") == "redis://lab:6379/0"
    # Unencoded "/" and "?" in the password: still hidden, whole.
    assert redact("redis://:ab/c?d@lab:6379/0") == "redis://***@lab:6379/0"
    assert redact("unix:///run/redis.sock?password=s3cret") == "unix:///run/redis.sock"


def test_stop_redis_shuts_the_embedded_server_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIGNPIPE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIGNPIPE_CONFIG", str(tmp_path / "settings.toml"))
    monkeypatch.delenv("SIGNPIPE_REDIS_URL", raising=False)
    server = ensure_embedded_redis(tmp_path)
    client = redis.Redis.from_url(server.url, retry=Retry(NoBackoff(), 0))
    client.set("kept", "1")

    assert main(["stop-redis"]) == 0
    assert "has stopped" in capsys.readouterr().out
    with pytest.raises(redis.ConnectionError):
        client.ping()
    assert main(["stop-redis"]) == 0
    assert "No embedded Redis was running" in capsys.readouterr().out

    again = ensure_embedded_redis(tmp_path)
    try:
        assert redis.Redis.from_url(again.url).get("kept") == b"1"
    finally:
        stop_embedded_redis(tmp_path)
