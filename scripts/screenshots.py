"""Screenshots of signpipe's real window for the README, taken on an X display.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts a private embedded Redis and a pipeline worker in a temporary folder, opens the
window (on an Xvfb of its own unless DISPLAY is set) and feeds it real archives until
the job table holds a job in every state. Then it saves:

- ``main-window.png``: the job table and the status bar;
- ``results-viewer.png``: the results of the sample recording;
- ``error-details.png``: why the hostile archive was refused;
- ``empty-window.png``: the window before the first archive.

One extraction and one pipeline run are held part-way, so that the pictures show work
in progress; everything else runs as it does for a user. The window runs in a child
process: whatever becomes of it, this process then stops Redis and Xvfb and removes
the temporary folder.

Xvfb is needed without a display; pngquant and optipng, when installed, keep the
PNGs small.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import qasync
import redis
import redis.asyncio as aioredis
from celery.contrib.testing.worker import start_worker
from PySide6.QtWidgets import QApplication, QWidget

from signpipe_gui.app import default_executor, install_qt_logging
from signpipe_gui.backend.celery_app import PIPELINE_QUEUE, create_app
from signpipe_gui.backend.connection import connect, redis_url
from signpipe_gui.backend.demo import (
    DemoFile,
    build_demo_archive,
    demo_files,
    frame_name,
    meta_json,
    recording_id_for,
    track_start,
    write_zip,
)
from signpipe_gui.backend.ingest import ExtractionJob
from signpipe_gui.backend.pipeline import detect
from signpipe_gui.backend.redis_server import stop_embedded_redis
from signpipe_gui.backend.settings import Settings
from signpipe_gui.resources import resource_path
from signpipe_gui.widgets import job_text
from signpipe_gui.widgets.job_poller import JobPoller
from signpipe_gui.widgets.main_window import MainWindow
from signpipe_gui.widgets.services import WindowServices

REPO = Path(__file__).resolve().parent.parent
SHOTS = (
    "empty-window.png",
    "main-window.png",
    "results-viewer.png",
    "error-details.png",
)
WINDOW_SIZE = (1400, 700)
VIEWER_SIZE = (1100, 780)
SCREEN = "1600x1000x24"
NO_TCP = ("-nolisten", "tcp")
PNGQUANT_OPTIONS = (
    "--force",
    "--skip-if-larger",
    "--quality",
    "80-100",
    "--speed",
    "1",
)
# The whole run takes well under a minute; past these something is stuck.
CHILD_TIMEOUT = 300.0
SCENE_TIMEOUT = 180.0
STEP_TIMEOUT = 60.0
HOLD_LIMIT = 120.0
# Extraction of the held archive is paced like a USB drive, so that its Speed and ETA
# read as they do for a real drive rather than for a local disk.
DRIVE_BYTES_PER_SECOND = 6_000_000
LARGE_RECORDING_FRAMES = 900
# The held pipeline run detects slowly enough that each frame's progress goes out.
HELD_DETECT_SECONDS = 0.3
HELD_DETECT_FRAMES = 6

logger = logging.getLogger("screenshots")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.work is not None:
        return take_screenshots(args.work)
    return supervise(args.out.resolve())


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "docs" / "screenshots",
        help="folder for the PNG files (default: docs/screenshots)",
    )
    # The child process that runs the window is told its temporary folder.
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# -- the supervising process ---------------------------------------------------------


def supervise(out: Path) -> int:
    """Run the window in a child process, then publish its PNGs and clean up."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with contextlib.ExitStack() as cleanup:
        root = Path(tempfile.mkdtemp(prefix="signpipe-screenshots-"))
        cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        env = _child_env(root)
        if not os.environ.get("DISPLAY"):
            env["DISPLAY"] = cleanup.enter_context(xvfb())
        # The child's Redis outlives it (it is a daemon, as in the application).
        cleanup.callback(_stop_redis, root / "data")
        code = run_child(root, env)
        if code != 0:
            print(f"the window's run failed (exit code {code}); nothing written")
            return code
        publish(root / "shots", out)
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _child_env(root: Path) -> dict[str, str]:
    """The environment of the window: user folders and settings all in ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPIPE_")}
    home = root / "home"
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_RUNTIME_DIR=str(root / "runtime"),
        QT_QPA_PLATFORM="xcb",
    )
    (root / "runtime").mkdir(mode=0o700)
    return env


@contextlib.contextmanager
def xvfb() -> Iterator[str]:
    """An Xvfb on the first free display number; yields that display's name."""
    if shutil.which("Xvfb") is None:
        raise SystemExit(
            "Xvfb is needed when DISPLAY is not set (apt-get install xvfb)"
        )
    read_end, write_end = os.pipe()
    # -displayfd makes Xvfb pick a free display itself and write its number. The
    # pipe stays open while Xvfb runs: it may write again, and dies if it cannot.
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, *NO_TCP],
        pass_fds=(write_end,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.close(write_end)
    try:
        yield f":{_read_line(read_end, timeout=10)}"
    finally:
        _stop(process)
        os.close(read_end)


def _read_line(fd: int, *, timeout: float) -> str:
    """A line from ``fd``, which may come in pieces; SystemExit if none comes."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        piece = os.read(fd, 64) if ready else b""
        if not piece:
            raise SystemExit("Xvfb did not start")
        data += piece
    return data.decode().strip()


def run_child(root: Path, env: dict[str, str]) -> int:
    """Run this script as the window's process and wait, within a time limit."""
    command = [sys.executable, str(Path(__file__).resolve()), "--work", str(root)]
    child = subprocess.Popen(command, env=env, cwd=root, start_new_session=True)
    try:
        return child.wait(timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"the window did not finish within {CHILD_TIMEOUT:.0f} s")
        return 1
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def publish(shots: Path, out: Path) -> None:
    """Copy the PNGs into ``out``, made smaller by pngquant and optipng if installed."""
    out.mkdir(parents=True, exist_ok=True)
    for name in SHOTS:
        shot = shots / name
        shrink(shot)
        shutil.copyfile(shot, out / name)
        print(f"wrote {_shown(out / name)} ({shot.stat().st_size // 1024} KB)")


def shrink(png: Path) -> None:
    """Fewer colours (the previews' photos need a palette to stay small), then
    the best lossless compression; each step only when its tool is there."""
    pngquant = shutil.which("pngquant")
    if pngquant:
        # Exit code 99 means the palette would have been worse than the quality
        # floor; the full-colour image is kept then.
        quantized = subprocess.run(
            [pngquant, *PNGQUANT_OPTIONS, "--output", str(png), str(png)], check=False
        )
        if quantized.returncode not in (0, 98, 99):
            quantized.check_returncode()
    optipng = shutil.which("optipng")
    if optipng:
        subprocess.run([optipng, "-quiet", "-o2", str(png)], check=True)


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _stop_redis(data_dir: Path) -> None:
    try:
        stop_embedded_redis(data_dir)
    except Exception as exc:
        print(f"the temporary Redis did not stop cleanly: {exc}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the window's process ------------------------------------------------------------


def take_screenshots(root: Path) -> int:
    """Open the window on a Redis, store and worker in ``root`` and take the PNGs."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    settings = Settings(
        data_dir=root / "data",
        store=root / "store",
        run_worker=False,
        # One at a time, so that an archive added behind the held one stays queued.
        concurrent_extractions=1,
    )
    archives = build_archives(root / "archives")
    shots = root / "shots"
    shots.mkdir()

    app = _application()
    install_qt_logging()
    client = connect(settings)  # starts the embedded Redis in root/data
    holds = Holds()
    loop = qasync.QEventLoop(app)
    loop.set_default_executor(default_executor())
    asyncio.set_event_loop(loop)
    with contextlib.ExitStack() as stack:
        stack.callback(asyncio.set_event_loop, None)
        stack.callback(client.close)
        stack.enter_context(held_detector(holds))
        stack.enter_context(pipeline_worker(settings))
        # Before the worker stops: it waits for the run it holds.
        stack.callback(holds.release_all)
        stack.enter_context(loop)
        scene = Scene(settings, client, archives, holds, shots)
        loop.run_until_complete(asyncio.wait_for(scene.run(), SCENE_TIMEOUT))
    app.shutdown()
    return 0


def _application() -> QApplication:
    app = QApplication(sys.argv[:1])
    app.setApplicationName("signpipe")
    app.setOrganizationName("signpipe")
    # The style desktops without a Qt theme get; fixed so the pictures are stable.
    app.setStyle("Fusion")
    return app


# -- holding work part-way -----------------------------------------------------------


class Hold:
    """Stops a worker thread once it has done ``after`` steps, until released."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.reached = threading.Event()
        self.released = threading.Event()

    def step(self, done: int) -> None:
        if done >= self.after and not self.released.is_set():
            self.reached.set()
            self.released.wait(HOLD_LIMIT)


@dataclass
class Holds:
    """The holds of one run: extractions by archive name, the next pipeline run."""

    extractions: dict[str, Hold] = field(default_factory=dict)
    next_pipeline: Hold | None = None
    every: list[Hold] = field(default_factory=list)

    def hold_extraction(self, archive: Path, after: int) -> Hold:
        hold = self.extractions[archive.name] = Hold(after)
        self.every.append(hold)
        return hold

    def hold_next_pipeline(self, after: int) -> Hold:
        hold = self.next_pipeline = Hold(after)
        self.every.append(hold)
        return hold

    def take_pipeline_hold(self) -> Hold | None:
        hold, self.next_pipeline = self.next_pipeline, None
        return hold

    def release_all(self) -> None:
        for hold in self.every:
            hold.released.set()


class HeldDetector:
    """The real detector, slowed and stopped after some frames by a hold."""

    def __init__(self, inner: Any, hold: Hold) -> None:
        self.inner = inner
        self.name = inner.name
        self.hold = hold
        self._calls = 0
        self._lock = threading.Lock()

    def detect(self, image: Any) -> Any:
        with self._lock:
            self._calls += 1
            call = self._calls
        if not self.hold.released.is_set():
            time.sleep(HELD_DETECT_SECONDS)
        self.hold.step(call)
        return self.inner.detect(image)


@contextlib.contextmanager
def held_detector(holds: Holds) -> Iterator[None]:
    """The built-in detector, held in the pipeline run that takes a hold."""
    builtin = detect.BUILTIN_DETECTORS["builtin"]

    def factory(settings: Any) -> Any:
        hold = holds.take_pipeline_hold()
        return (
            builtin(settings) if hold is None else HeldDetector(builtin(settings), hold)
        )

    detect.BUILTIN_DETECTORS["builtin"] = factory
    try:
        yield
    finally:
        detect.BUILTIN_DETECTORS["builtin"] = builtin


@contextlib.contextmanager
def pipeline_worker(settings: Settings) -> Iterator[None]:
    """A real Celery worker on the pipeline queue, in this process.

    Celery's embedded worker (the one its own test suite uses) runs the real task in a
    thread here, which is what lets one run's detector be held.
    """
    app = create_app(settings)
    with start_worker(
        app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        hostname=f"celery@{socket.gethostname()}",
        loglevel="WARNING",
        shutdown_timeout=60,
    ):
        yield
    app.close()


class HeldExtractionJob(ExtractionJob):
    """An extraction paced like a USB drive and stopped part-way by a hold."""

    def __init__(self, archive_path: Path, hold: Hold, **kwargs: Any) -> None:
        super().__init__(archive_path, **kwargs)
        self.hold = hold
        self._paced_bytes = 0

    def _on_extract_progress(self, files_done: int, bytes_done: int) -> None:
        super()._on_extract_progress(files_done, bytes_done)
        if not self.hold.released.is_set():
            time.sleep((bytes_done - self._paced_bytes) / DRIVE_BYTES_PER_SECOND)
        self._paced_bytes = bytes_done
        self.hold.step(files_done)


@dataclass
class HoldingServices(WindowServices):
    """The window's services, with the jobs of some archives held part-way."""

    holds: Holds = field(default_factory=Holds)

    def new_job(self, archive_path: Path) -> ExtractionJob:
        hold = self.holds.extractions.get(archive_path.name)
        if hold is None:
            return super().new_job(archive_path)  # type: ignore[no-any-return]
        self.store.ensure()
        return HeldExtractionJob(
            archive_path,
            hold,
            settings=self.settings,
            store=self.store,
            progress=self.progress,
            dispatch=self._dispatch,
        )


# -- the archives --------------------------------------------------------------------


@dataclass(frozen=True)
class Archives:
    """One real archive for each state a job can be shown in."""

    demo: Path
    hostile: Path
    duplicate: Path
    cancelled: Path
    pipeline_running: Path
    pipeline_queued: Path
    extracting: Path
    waiting: Path
    extracting_files: int


def build_archives(folder: Path) -> Archives:
    """The sample recording, recordings made of its photos, and two bad archives."""
    folder.mkdir(parents=True)
    demo = build_demo_archive(folder)
    start = track_start(resource_path("demo") / "gps.csv")
    # The same recording again, as if copied from a second drive.
    duplicate = folder / "second-drive" / demo.name
    duplicate.parent.mkdir()
    shutil.copyfile(demo, duplicate)

    def later(hours: float) -> dt.datetime:
        return start + dt.timedelta(hours=hours)

    extracting, files = _large_recording(folder, later(5))
    return Archives(
        demo=demo,
        hostile=_hostile_archive(folder, later(1)),
        duplicate=duplicate,
        cancelled=_recording(folder, later(2)),
        pipeline_running=_recording(folder, later(3)),
        pipeline_queued=_recording(folder, later(4)),
        extracting=extracting,
        waiting=_recording(folder, later(6)),
        extracting_files=files,
    )


def _recording(folder: Path, start: dt.datetime) -> Path:
    """A recording of the sample's photos and track that starts at ``start``."""
    recording_id = recording_id_for(start)
    path = folder / f"{recording_id}.zip"
    write_zip(path, recording_id, demo_files(resource_path("demo"), start), start)
    return path


def _large_recording(folder: Path, start: dt.datetime) -> tuple[Path, int]:
    """A longer recording (many frames) as a tar.gz, and the number of its files.

    A compressed tar is inflated while it is checked, and its files are then moved
    into place one by one on the job's thread: each file is one progress step, which
    is what the hold counts and paces.
    """
    source = resource_path("demo")
    photos = [p.read_bytes() for p in sorted((source / "photos").glob("*.jpg"))]
    files = [
        DemoFile(
            f"camera/{frame_name(start + dt.timedelta(seconds=i / 10))}",
            photos[i % len(photos)],
        )
        for i in range(LARGE_RECORDING_FRAMES)
    ]
    files.append(DemoFile("gps.csv", (source / "gps.csv").read_bytes()))
    files.append(DemoFile("meta.json", meta_json(start)))
    recording_id = recording_id_for(start)
    path = folder / f"{recording_id}.tar.gz"
    _write_tar_gz(path, recording_id, files, start)
    return path, len(files)


def _write_tar_gz(
    path: Path, recording_id: str, files: list[DemoFile], start: dt.datetime
) -> None:
    # JPEG frames hardly shrink: the fastest level saves time and gives the same size.
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for demo_file in files:
            info = tarfile.TarInfo(f"{recording_id}/{demo_file.name}")
            info.size = len(demo_file.data)
            info.mtime = int(start.timestamp())
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(demo_file.data))


def _hostile_archive(folder: Path, start: dt.datetime) -> Path:
    """An archive with a member whose name climbs out of the recording folder."""
    recording_id = recording_id_for(start)
    path = folder / f"{recording_id}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{recording_id}/meta.json", b'{"vehicle": "test"}\n')
        archive.writestr(f"{recording_id}/camera/0001.jpg", b"\xff\xd8" + b"x" * 4096)
        archive.writestr(f"{recording_id}/../../.bashrc", b"echo gotcha\n")
    return path


# -- the scene -----------------------------------------------------------------------


class Scene:
    """The window, fed one archive after another until every state is on show."""

    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        archives: Archives,
        holds: Holds,
        shots: Path,
    ) -> None:
        self.settings = settings
        self.client = client
        self.archives = archives
        self.holds = holds
        self.shots = shots

    async def run(self) -> None:
        window = self._open_window()
        try:
            await self._take_all(window)
        finally:
            await self._close_window(window)

    def _open_window(self) -> MainWindow:
        services = HoldingServices(self.settings, self.client, holds=self.holds)
        url = redis_url(self.settings)
        poller = JobPoller(
            aioredis.Redis.from_url(url, socket_timeout=5), queue_name=PIPELINE_QUEUE
        )
        window = MainWindow(services, poller)
        window.resize(*WINDOW_SIZE)
        window.show()
        window.start()
        return window

    async def _take_all(self, window: MainWindow) -> None:
        await until(lambda: "online" in window.status.workers.text(), "worker count")
        await settle()
        save(window, self.shots / "empty-window.png")

        demo = await self._add_done(window, self.archives.demo, pipeline="done")
        hostile = await self._add(window, self.archives.hostile, "error")
        await self._add(window, self.archives.duplicate, "error")
        await self._add_cancelled(window)
        await self._add_pipeline_running(window)
        await self._add_done(window, self.archives.pipeline_queued, pipeline="queued")
        await self._add_extracting(window)
        await self._add(window, self.archives.waiting, "queued")
        await settle(2.0)
        save(window, self.shots / "main-window.png")

        dialog = window.actions_.show_error_of(hostile)
        await settle()
        save(dialog, self.shots / "error-details.png")
        dialog.close()

        viewer = window.actions_.show_results_of(str(demo["recording_id"]))
        viewer.resize(*VIEWER_SIZE)
        await until(lambda: viewer.signs.rowCount() > 0, "the results")
        await settle()
        save(viewer, self.shots / "results-viewer.png")
        viewer.close()

    async def _add(
        self, window: MainWindow, archive: Path, status: str
    ) -> dict[str, Any]:
        """Add an archive as a drop would and wait until its job has ``status``."""
        window.add_paths([archive])
        await until(
            lambda: (job_of(window, archive) or {}).get("status") == status,
            f"{archive.name} {status}",
        )
        return job_of(window, archive) or {}

    async def _add_done(
        self, window: MainWindow, archive: Path, *, pipeline: str
    ) -> dict[str, Any]:
        await self._add(window, archive, "done")
        await until(
            lambda: pipeline_state(window, archive) == pipeline,
            f"{archive.name} pipeline {pipeline}",
        )
        return job_of(window, archive) or {}

    async def _add_cancelled(self, window: MainWindow) -> None:
        """An extraction cancelled part-way, as the Cancel button does it."""
        archive = self.archives.cancelled
        hold = self.holds.hold_extraction(archive, after=8)
        window.add_paths([archive])
        await until(hold.reached.is_set, f"{archive.name} part-way")
        window.pool.cancel(str((job_of(window, archive) or {}).get("job_id")))
        hold.released.set()
        await until(
            lambda: (job_of(window, archive) or {}).get("status") == "cancelled",
            f"{archive.name} cancelled",
        )

    async def _add_pipeline_running(self, window: MainWindow) -> None:
        hold = self.holds.hold_next_pipeline(after=HELD_DETECT_FRAMES)
        archive = self.archives.pipeline_running
        await self._add(window, archive, "done")
        await until(hold.reached.is_set, f"{archive.name} pipeline part-way")
        await until(
            lambda: pipeline_state(window, archive) == "running",
            f"{archive.name} pipeline running",
        )

    async def _add_extracting(self, window: MainWindow) -> None:
        archive = self.archives.extracting
        hold = self.holds.hold_extraction(
            archive, after=self.archives.extracting_files * 2 // 5
        )
        window.add_paths([archive])
        await until(hold.reached.is_set, f"{archive.name} part-way")

    async def _close_window(self, window: MainWindow) -> None:
        """Cancel what still runs, let the held threads go, and close."""
        pool = window.pool
        for job_id in pool.running_job_ids() + pool.queued_job_ids():
            pool.cancel(job_id)
        self.holds.release_all()
        window.shutdown()
        await window.poller.stop()
        window.close()


def job_of(window: MainWindow, archive: Path) -> dict[str, Any] | None:
    """The row's job object of the archive at ``archive``, if it has a row yet."""
    model = window.model
    for row in range(model.rowCount()):
        job = model.job(row)
        if job.get("archive_path") == str(archive):
            return dict(job)
    return None


def pipeline_state(window: MainWindow, archive: Path) -> str:
    job = job_of(window, archive)
    return job_text.pipeline_state(job, window.model.pipeline_of(job)) if job else ""


async def until(predicate: Callable[[], object], what: str) -> None:
    """Let the window run until ``predicate()`` holds."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {STEP_TIMEOUT:.0f} s for {what}")
        await asyncio.sleep(0.05)


async def settle(seconds: float = 0.5) -> None:
    """Give the poller a cycle or two and Qt time to paint."""
    await asyncio.sleep(seconds)


def save(widget: QWidget, path: Path) -> None:
    """The widget as it is drawn on screen, as a PNG."""
    if not widget.grab().save(str(path), "PNG"):
        raise RuntimeError(f"could not write {path}")
    logger.info("saved %s", path.name)


if __name__ == "__main__":
    raise SystemExit(main())
