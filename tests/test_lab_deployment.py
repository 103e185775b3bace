"""A lab as deployed: one Redis, one store, two worker machines, two workstations.

Two `signpipe worker` processes and two `signpipe submit` processes run against the
test redis-server and one store. The second "machine" mounts the store at another
path (a symlink), as lab machines do. Every recording must be extracted once and
processed by exactly one pipeline run, including one archive both workstations submit.
"""

from __future__ import annotations

import calendar
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import redis

from signpipe_gui.backend.redis_server import EmbeddedRedis

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SIGNPIPE = [sys.executable, "-m", "signpipe_gui"]
RECORDINGS = [f"2024_05_20_10_{minute:02d}_00_000" for minute in range(7)]
SHARED = RECORDINGS[-1]  # submitted by both workstations
STARTUP_TIMEOUT = 30.0
PIPELINE_TIMEOUT = 40.0
TASK_RECEIVED = re.compile(r"Task signpipe\.run_pipeline\[([0-9a-f-]+)\] received")


def test_two_workers_and_two_workstations_process_every_recording_once(
    redis_server: EmbeddedRedis, redis_client: redis.Redis, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    mount_b = tmp_path / "mnt" / "recordings"
    mount_b.parent.mkdir()
    mount_b.symlink_to(store, target_is_directory=True)
    archives = {
        rid: _recording_archive(tmp_path / "archives", rid) for rid in RECORDINGS
    }

    machine_a = _machine_env(tmp_path / "machine-a", redis_server.url, store)
    machine_b = _machine_env(tmp_path / "machine-b", redis_server.url, mount_b)
    workers = [
        _start_worker(machine_a, "lab-worker-a", tmp_path / "worker-a.log"),
        _start_worker(machine_b, "lab-worker-b", tmp_path / "worker-b.log"),
    ]
    try:
        _wait_until_ready(workers)
        submitters = [
            _start_submit(machine_a, [*(archives[r] for r in RECORDINGS[0:3])]),
            _start_submit(machine_b, [*(archives[r] for r in RECORDINGS[3:6])]),
        ]
        # Both workstations race for the shared recording at the same moment.
        submitters += [
            _start_submit(machine_a, [archives[SHARED]]),
            _start_submit(machine_b, [archives[SHARED]]),
        ]
        outputs = [_finish(submitter) for submitter in submitters]
        statuses = {rid: _wait_for_pipeline(store / rid) for rid in RECORDINGS}
    finally:
        logs = [_stop(process, log) for process, log in workers]

    jobs = [job for _, job_lines in outputs for job in job_lines]
    done = Counter(job["recording_id"] for job in jobs if job["status"] == "done")
    assert done == Counter(RECORDINGS), jobs

    losers = [job for job in jobs if job["status"] != "done"]
    assert len(losers) == 1
    assert losers[0]["error_msg"] == "Recording already exists."
    assert losers[0]["error_details"]["code"] == "already_exists"
    assert sorted(code for code, _ in outputs) == [0, 0, 0, 1]

    assert {rid: s.get("status") for rid, s in statuses.items()} == dict.fromkeys(
        RECORDINGS, "done"
    ), "\n".join(log[-3000:] for log in logs)
    for rid in RECORDINGS:
        assert (store / rid / "results" / "summary.json").is_file()

    received = [TASK_RECEIVED.findall(log) for log in logs]
    runs = Counter(task_id for per_worker in received for task_id in per_worker)
    assert runs == Counter(s["task_id"] for s in statuses.values())
    assert all(received), "each worker machine should have run some recordings"


def _recording_archive(folder: Path, recording_id: str) -> Path:
    """A small real recording: three camera frames with a red ring, a GPS track."""
    folder.mkdir(exist_ok=True)
    archive = folder / f"{recording_id}.zip"
    start = calendar.timegm(time.strptime(recording_id[:19], "%Y_%m_%d_%H_%M_%S"))

    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for index in range(3):
            zf.writestr(f"{recording_id}/camera/{index:06d}.jpg", _frame(index))
        track = ["time,lat,lon"] + [
            f"{start + s:.1f},{48.2 + s * 1e-4:.6f},{16.37 + s * 1e-4:.6f}"
            for s in range(5)
        ]
        zf.writestr(f"{recording_id}/gps.csv", "\n".join(track) + "\n")
        zf.writestr(f"{recording_id}/meta.json", json.dumps({"frame_rate": 1.0}))
    return archive


def _frame(index: int) -> bytes:
    image = np.full((240, 320, 3), 200, np.uint8)
    cv2.circle(image, (120 + 20 * index, 110), 40, (255, 255, 255), -1)
    cv2.circle(image, (120 + 20 * index, 110), 40, (30, 30, 220), 9)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return encoded.tobytes()


def _machine_env(home: Path, redis_url: str, store: Path) -> dict[str, str]:
    """One lab machine: the lab Redis, the store at its own mount path, its own data."""
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPIPE_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        SIGNPIPE_DATA_DIR=str(home / "data"),
        SIGNPIPE_REDIS_URL=redis_url,
        SIGNPIPE_STORE=str(store),
    )
    return env


def _start_worker(
    env: dict[str, str], name: str, log: Path
) -> tuple[subprocess.Popen[str], Path]:
    with log.open("w") as out:
        process = subprocess.Popen(
            [*SIGNPIPE, "worker", "--concurrency", "1", "--hostname", f"{name}@%h"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    return process, log


def _wait_until_ready(workers: list[tuple[subprocess.Popen[str], Path]]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        for process, log in workers:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        if all(" ready." in log.read_text(errors="replace") for _, log in workers):
            return
        time.sleep(0.2)
    pytest.fail("the workers did not report ready in time")


def _start_submit(env: dict[str, str], archives: list[Path]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*SIGNPIPE, "submit", *map(str, archives), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(submitter: subprocess.Popen[str]) -> tuple[int, list[dict]]:
    """The submit process's exit code and the job objects it printed."""
    stdout, stderr = submitter.communicate(timeout=60)
    jobs = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert jobs, f"submit printed no job: {stderr[-2000:]}"
    return submitter.returncode, jobs


def _wait_for_pipeline(recording: Path) -> dict:
    """status.json once its pipeline ended, or the last one read at the deadline."""
    status: dict = {}
    deadline = time.monotonic() + PIPELINE_TIMEOUT
    while time.monotonic() < deadline:
        try:
            status = json.loads((recording / "status.json").read_text())
        except (OSError, ValueError):
            status = {}
        if status.get("status") in {"done", "error", "cancelled"}:
            break
        time.sleep(0.2)
    return status


def _stop(process: subprocess.Popen[str], log: Path) -> str:
    """Warm shutdown of one worker (its whole process group if it hangs); its log."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return log.read_text(errors="replace")
