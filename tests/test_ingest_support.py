"""Helpers for the ingest tests: archives built in code and a restartable redis-server.

No tests live here; the other ``test_ingest*`` and ``test_progress`` modules import it.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import socket
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from signpipe_gui.backend.redis_server import find_redis_server

RECORDING_ID = "2024_05_20_23_32_53_415"


def member_bytes(index: int, size: int) -> bytes:
    """Deterministic bytes that compress a little, like camera frames do not much."""
    rng = random.Random(index)
    half = rng.randbytes(size // 2)
    return (half + bytes(size - len(half)))[:size]


def recording_files(
    count: int = 12, size: int = 4096, recording_id: str = RECORDING_ID
) -> dict[str, bytes]:
    """A small recording: camera frames, a GPS track and metadata."""
    files = {
        f"{recording_id}/camera/{index:04d}.jpg": member_bytes(index, size)
        for index in range(count)
    }
    files[f"{recording_id}/gps.csv"] = b"t,lat,lon\n0,48.1,11.5\n1,48.2,11.6\n"
    files[f"{recording_id}/meta.json"] = b'{"vehicle": "test"}\n'
    return files


def build_zip(
    path: Path,
    files: dict[str, bytes],
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def build_tar(path: Path, files: dict[str, bytes], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_of(root: Path) -> dict[str, int]:
    """Every file under ``root`` with its size (folders as -1)."""
    if not root.exists():
        return {}
    tree: dict[str, int] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        tree[relative] = path.stat().st_size if path.is_file() else -1
    return tree


def store_snapshot(store_root: Path) -> dict[str, int]:
    """The store without its work folder (spool and staging)."""
    return {
        name: size
        for name, size in tree_of(store_root).items()
        if not name.startswith(".signpipe")
    }


def staging_left(store_root: Path) -> list[str]:
    staging = store_root / ".signpipe" / "staging"
    return sorted(os.listdir(staging)) if staging.is_dir() else []


class RestartableRedis:
    """A real redis-server on a fixed port that a test can stop and start again."""

    def __init__(self, data_dir: Path, *, appendonly: bool = True) -> None:
        self.data_dir = data_dir
        self.appendonly = appendonly
        self.port = _free_port()
        self.password = "test-" + os.urandom(8).hex()
        self.process: subprocess.Popen[bytes] | None = None
        data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(find_redis_server()),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--requirepass",
                self.password,
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--save",
                "",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.answers():
                return
            time.sleep(0.02)
        raise RuntimeError("test redis-server did not start")

    def stop(self) -> None:
        """Shut the server down the way a restart does (data saved to the AOF)."""
        if self.process is None:
            return
        client = self.client()
        try:
            client.shutdown(nosave=not self.appendonly)
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def answers(self) -> bool:
        client = self.client()
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def client(self, **options: Any) -> redis.Redis:
        settings: dict[str, Any] = {
            "socket_timeout": 2,
            "socket_connect_timeout": 1,
            "retry": Retry(NoBackoff(), 0),
        }
        return redis.Redis.from_url(self.url, **{**settings, **options})

    def wipe(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
