"""Shared fixtures: a real redis-server started the way signpipe embeds it, a temporary
store, and settings that never read the developer's own config or data folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from signpipe_gui.backend.redis_server import (
    EmbeddedRedis,
    ensure_embedded_redis,
    stop_embedded_redis,
)
from signpipe_gui.backend.settings import Settings
from signpipe_gui.backend.store import RecordingStore


@pytest.fixture(autouse=True)
def _isolated_user_folders(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the user's real config, data or cache folders."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    for name in list(os.environ):
        if name.startswith("SIGNPIPE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def redis_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("signpipe-data")


@pytest.fixture(scope="session")
def redis_server(redis_data_dir: Path) -> Iterator[EmbeddedRedis]:
    """One real redis-server for the session, started by signpipe's own code."""
    server = ensure_embedded_redis(redis_data_dir)
    yield server
    stop_embedded_redis(redis_data_dir)


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """A client on an empty database."""
    client = redis.Redis.from_url(redis_server.url, socket_timeout=5)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    root.mkdir()
    return root


@pytest.fixture
def store(store_root: Path) -> RecordingStore:
    recording_store = RecordingStore(store_root)
    recording_store.ensure()
    return recording_store


@pytest.fixture
def settings(
    tmp_path: Path,
    redis_server: EmbeddedRedis,
    redis_client: redis.Redis,
    store_root: Path,
) -> Settings:
    """Settings on the test redis-server and a temporary store."""
    return Settings(
        data_dir=tmp_path / "data",
        store=store_root,
        redis_url=redis_server.url,
        progress_interval=0.02,
    )
