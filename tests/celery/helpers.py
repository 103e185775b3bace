"""Helpers of the pipeline queue tests: recordings of real photos, polling, workers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from signpipe_gui.backend.settings import Settings
from signpipe_gui.backend.status_file import write_status

REPO = Path(__file__).resolve().parents[2]
# The real street photos signpipe ships for its demo: these tests check the queue,
# not the detector, so they need no data from outside the repository.
PHOTOS = REPO / "resources" / "demo" / "photos"
RECORDING_ID = "2024_05_20_23_32_53_415"
RECORDING_START = 1716247973.415  # the time in RECORDING_ID, UTC
# Short, so a message of a killed worker comes back within seconds.
VISIBILITY_TIMEOUT = 6
WORKER_START_TIMEOUT = 30.0


def photos(count: int) -> list[Path]:
    """``count`` real street photos (repeated when more are asked than there are)."""
    found = sorted(PHOTOS.glob("road*.jpg"))
    assert found, f"no photos in {PHOTOS}"
    return [found[i % len(found)] for i in range(count)]


def make_recording(
    store: Path,
    recording_id: str = RECORDING_ID,
    *,
    frames: int = 3,
    job_id: str | None = None,
    gps: bool = True,
) -> Path:
    """A stored recording as ingest leaves it: camera frames, gps.csv, status.json."""
    recording = store / recording_id
    camera = recording / "camera"
    camera.mkdir(parents=True)
    for index, photo in enumerate(photos(frames)):
        shutil.copyfile(photo, camera / f"{index:06d}{photo.suffix}")
    if gps:
        rows = ["time,lat,lon"] + [
            f"{RECORDING_START + s:.3f},{48.2 + s * 1e-4:.6f},{16.37 + s * 1e-4:.6f}"
            for s in range(frames + 2)
        ]
        (recording / "gps.csv").write_text("\n".join(rows) + "\n")
    (recording / "meta.json").write_text(json.dumps({"frame_rate": 1.0}))
    write_status(
        recording,
        {
            "recording_id": recording_id,
            "status": "queued",
            "created_at": time.time(),
            "source": {"job_id": job_id, "archive_name": f"{recording_id}.zip"},
        },
    )
    return recording


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def wait_for(
    check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll ``check`` until it returns something true; fail the test after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_for_status(
    recording: Path, states: set[str], timeout: float = 30.0
) -> dict[str, Any]:
    """status.json once its status is one of ``states``."""

    def current() -> dict[str, Any] | None:
        status = read_json(recording / "status.json")
        return status if status.get("status") in states else None

    return wait_for(current, timeout, f"status in {sorted(states)} of {recording.name}")


@dataclass
class WorkerProcess:
    """One running ``signpipe worker`` and its log."""

    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(repr=False)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool), as a power cut would."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"worker exited early:\n{self.text()[-3000:]}")
            if " ready." in self.text():
                return
            time.sleep(0.05)
        pytest.fail(f"worker not ready:\n{self.text()[-3000:]}")


def worker_env(settings: Settings, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPIPE_")}
    env.update(
        HOME=str(home),
        SIGNPIPE_DATA_DIR=str(settings.data_dir),
        SIGNPIPE_STORE=str(settings.store_path),
        SIGNPIPE_REDIS_URL=settings.redis_url,
        SIGNPIPE_VISIBILITY_TIMEOUT=str(settings.visibility_timeout),
        SIGNPIPE_PIPELINE_MAX_ATTEMPTS=str(settings.pipeline_max_attempts),
        SIGNPIPE_PIPELINE_TIME_LIMIT=str(settings.pipeline_time_limit),
    )
    return env
