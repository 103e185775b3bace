"""The frozen bundle works on its own: version, demo archive, submit, worker, pipeline.

Everything runs from dist/signpipe/signpipe with the redis-server inside the bundle,
in a temporary data folder and store; nothing from the source tree is imported by the
processes under test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from signpipe_gui.backend.redis_server import stop_embedded_redis

PIPELINE_TIMEOUT = 240.0
WINDOW_TIMEOUT = 60.0

# The first test also waits for the bundle to be built.
pytestmark = pytest.mark.timeout(1200)


@pytest.fixture
def bundle_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment for the bundle: its own home, data folder and store."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SIGNPIPE_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        SIGNPIPE_DATA_DIR=str(tmp_path / "data"),
        SIGNPIPE_STORE=str(tmp_path / "store"),
        QT_QPA_PLATFORM="offscreen",
    )
    yield env
    stop_embedded_redis(tmp_path / "data")


def run_bundle(
    bundle: Path, args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """One command of the bundle, run to its end."""
    return subprocess.run(
        [str(bundle), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_version_comes_from_package_metadata(
    bundle: Path, bundle_env: dict[str, str], tmp_path: Path
) -> None:
    shown = run_bundle(bundle, ["--version"], bundle_env, tmp_path)

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"signpipe {version('signpipe')}"


def test_demo_submit_and_worker_run_the_pipeline_end_to_end(
    bundle: Path, bundle_env: dict[str, str], tmp_path: Path
) -> None:
    demo = run_bundle(bundle, ["demo", "--output", str(tmp_path)], bundle_env, tmp_path)
    assert demo.returncode == 0, demo.stderr
    archive = _written_archive(demo.stdout, tmp_path)

    worker = _start_worker(bundle, bundle_env, tmp_path)
    try:
        submitted = run_bundle(
            bundle, ["submit", str(archive), "--json"], bundle_env, tmp_path
        )
        assert submitted.returncode == 0, submitted.stderr + submitted.stdout
        job = json.loads(submitted.stdout.strip().splitlines()[-1])
        assert job["status"] == "done"
        assert job["progress_percent"] == 100

        status = _wait_for_pipeline(tmp_path / "store" / job["recording_id"], worker)
    finally:
        worker_log = _stop(worker, tmp_path / "worker.log")

    assert status["status"] == "done", worker_log[-4000:]
    results = tmp_path / "store" / job["recording_id"] / "results"
    assert (results / "summary.json").is_file()
    assert (results / "detections.csv").is_file()
    assert _bundled_redis_served(bundle, tmp_path / "data")


def test_a_window_extraction_runs_in_the_bundle_as_itself(
    bundle: Path, bundle_env: dict[str, str], tmp_path: Path
) -> None:
    from signpipe_gui.backend.connection import connect
    from signpipe_gui.backend.ingest import ExtractionJob
    from signpipe_gui.backend.progress import RedisProgressService
    from signpipe_gui.backend.settings import Settings
    from signpipe_gui.backend.store import RecordingStore

    demo = run_bundle(bundle, ["demo", "--output", str(tmp_path)], bundle_env, tmp_path)
    assert demo.returncode == 0, demo.stderr
    archive = _written_archive(demo.stdout, tmp_path)
    # The window's side: it creates the job object, then hands the job over.
    settings = Settings(data_dir=tmp_path / "data", store=tmp_path / "store")
    client = connect(settings)
    progress = RedisProgressService(client)
    store = RecordingStore(settings.store_path)
    store.ensure()
    created = ExtractionJob(
        archive, settings=settings, store=store, progress=progress
    ).create()

    with (tmp_path / "extract.log").open("w") as log:
        child = subprocess.Popen(
            [str(bundle), "extract-job"],
            env=bundle_env,
            cwd=tmp_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    assert child.stdin is not None
    assert child.stdout is not None
    request = {"archive_path": str(archive), "job": created}
    child.stdin.write(json.dumps(request) + "\n")
    child.stdin.flush()
    # stdin stays open while it runs: its end would mean the window is gone.
    with child.stdout:
        out = child.stdout.read()
    child.wait(timeout=120)
    child.stdin.close()
    log_text = (tmp_path / "extract.log").read_text(errors="replace")
    final = json.loads(out.strip().splitlines()[-1])

    assert child.returncode == 0, log_text[-3000:]
    assert final["job_id"] == created["job_id"]
    assert final["status"] == "done", final.get("error_msg")
    assert (tmp_path / "store" / final["recording_id"] / "status.json").is_file()
    stored = progress.get_extraction_progress(created["job_id"])
    assert stored is not None
    assert stored["status"] == "done"
    progress.close()
    client.close()


def test_window_starts_its_worker_as_itself(
    bundle: Path, bundle_env: dict[str, str], tmp_path: Path
) -> None:
    with (tmp_path / "window.log").open("w") as log:
        window = subprocess.Popen(
            [str(bundle)],
            env=bundle_env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    children: list[int] = []
    try:
        children = _wait_for_children(window.pid)
        commands = [_cmdline(child) for child in children]
    finally:
        _stop_processes([window.pid])
        window.wait(timeout=10)
        _stop_processes(children)

    log_text = (tmp_path / "window.log").read_text(errors="replace")
    assert commands == [[str(bundle), "worker"]], log_text[-3000:]


def _wait_for_children(pid: int) -> list[int]:
    """The processes ``pid`` started, once there are some."""
    deadline = time.monotonic() + WINDOW_TIMEOUT
    while time.monotonic() < deadline:
        children = [child for child, parent in _process_parents() if parent == pid]
        if children:
            return children
        time.sleep(0.2)
    return []


def _process_parents() -> list[tuple[int, int]]:
    pairs = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        pairs.append((int(entry.name), int(fields[1])))
    return pairs


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode() for part in raw.split(b"\0") if part]


def _stop_processes(pids: list[int]) -> None:
    """Warm-stop processes this test started, then kill whichever are left."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _written_archive(stdout: str, folder: Path) -> Path:
    """The archive `signpipe demo` wrote: the path it printed, else the file there."""
    for line in stdout.splitlines():
        candidate = Path(line.strip().removeprefix("Wrote "))
        if candidate.is_file():
            return candidate
    archives = [p for p in folder.iterdir() if p.is_file()]
    assert len(archives) == 1, f"demo wrote {archives}; printed {stdout!r}"
    return archives[0]


def _start_worker(
    bundle: Path, env: dict[str, str], folder: Path
) -> subprocess.Popen[str]:
    with (folder / "worker.log").open("w") as log:
        return subprocess.Popen(
            [str(bundle), "worker", "--concurrency", "1"],
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def _wait_for_pipeline(recording: Path, worker: subprocess.Popen[str]) -> dict:
    """status.json once the pipeline ended, or the last one seen at the deadline."""
    status: dict = {}
    deadline = time.monotonic() + PIPELINE_TIMEOUT
    while time.monotonic() < deadline:
        try:
            status = json.loads((recording / "status.json").read_text())
        except (OSError, ValueError):
            status = {}
        if status.get("status") in {"done", "error", "cancelled"}:
            return status
        assert worker.poll() is None, "the bundled worker exited"
        time.sleep(0.5)
    return status


def _stop(worker: subprocess.Popen[str], log: Path) -> str:
    """Stop the worker (warm shutdown, then its whole process group); its log."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    return log.read_text(errors="replace")


def _bundled_redis_served(bundle: Path, data_dir: Path) -> bool:
    """True when the embedded redis-server running is the binary inside the bundle."""
    pid = int((data_dir / "redis" / "redis.pid").read_text().strip())
    executable = Path(os.readlink(f"/proc/{pid}/exe"))
    return bundle.parent in executable.parents
