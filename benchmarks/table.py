"""The job table under load: one poll cycle's time and the longest stall of the window.

Run from the repository::

    .venv/bin/python benchmarks/table.py             # 1,000 jobs, 4 extractions, 20 s
    .venv/bin/python benchmarks/table.py --quick     # smaller archives, 6 s
    .venv/bin/python benchmarks/table.py --jobs 5000 --seconds 30 --extractions 2

Everything is real and lives in one temporary folder, removed at the end (also on
Ctrl+C): a redis-server started by signpipe's embedded-server code; ``--jobs`` job
objects written through ``RedisProgressService`` (most done with a finished
pipeline, some failed, some with a pipeline still running, a few extracting on
another workstation); the real ``MainWindow`` on the offscreen platform with its
``JobPoller`` on a qasync loop; and four zip recordings of 2,000 frames of ~150 KB
(800 with ``--quick``) dropped on it and extracted four at a time by its own pool.
An archive is dropped again when its extraction ends, so four extractions publish
progress all the time. The archives take ~1.2 GB and every finished extraction
~300 MB more until the end.

What is measured, from the moment the empty window is on screen:

- poll cycle: ``PollResult.seconds``, the wall time of one ``poll_once`` from its
  first line to its result: the Redis round trips, and whatever else the loop ran
  while the poll waited for them;
- poll, GUI thread only: the time the poll coroutine itself ran (its steps between
  awaits: building the commands, parsing the replies, comparing and decoding);
- apply: the window's handling of one result (model, sorting proxy and view);
  painting comes after it and shows up as stalls;
- stalls: a precise 5 ms QTimer runs through the first load of every row to the
  end; a stall is a gap between two of its ticks beyond those 5 ms. The GUI
  thread's CPU time in each gap tells work from waiting for a core or the GIL.

The polls of the first load (``JobPoller.LOAD_BATCH`` jobs each) are summed up on
their own line; median and p95 are over the polls after it. The exit status is 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import struct
import sys
import tempfile
import time
import types
import uuid
import zlib
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Before Qt is imported: the window needs no display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

POLL_TARGET = 0.005
STALL_TARGET = 0.050
TICK_SECONDS = 0.005
EXTRACTIONS = 4
LOAD_TIMEOUT = 60.0
FIRST_RECORDING = (2024, 5, 20, 23, 32, 53)

# --- the archives ---------------------------------------------------------------
# ~150 KB frames as a car's camera writes them; enough of them that an extraction
# lasts several seconds with four sharing two cores, so few end during a run.
FRAME_BYTES = 150_000
FRAMES = 2_000
QUICK_FRAMES = 800
FRAME_POOL = 16
# Zip headers: local, central (in two parts) and end of the central directory.
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHH")
_CENTRAL_TAIL = struct.Struct("<HHII")
_END = struct.Struct("<IHHHHIIH")
_ZIP_STAMP = (0xBC10, 0x58B4)  # 23:32:32 on 2024-05-20, as DOS time and date

# --- the mix of job objects -------------------------------------------------------
# Shares of --jobs, the rest done with a finished pipeline.
FAILED_SHARE = 0.08
PIPELINE_RUNNING_SHARE = 0.02
PEER_ACTIVE_SHARE = 0.01
PEER_HOST = "lab-ws-07"


@dataclass(frozen=True)
class Stall:
    """A gap in the GUI thread's ticks: when, how far beyond the tick, its CPU."""

    at: float
    beyond: float
    cpu: float


@dataclass(frozen=True)
class Cycle:
    """One poll as the window saw it."""

    seconds: float  # PollResult.seconds
    busy: float  # the poll coroutine's own steps on the GUI thread
    apply: float  # the window's slot for the result
    changed: int  # job objects in the result
    rows: int  # rows in the table afterwards


@dataclass
class Figures:
    """What the run measured, in seconds."""

    cycles: list[Cycle] = field(default_factory=list)
    poll_busy: list[float] = field(default_factory=list)
    stalls: list[Stall] = field(default_factory=list)
    load_seconds: float = 0.0
    extractions_done: int = 0
    extracted_bytes: int = 0
    extractions_failed: list[str] = field(default_factory=list)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    seconds: float = 0.0
    gui_cpu: float = 0.0

    def split(self, jobs: int) -> tuple[list[Cycle], list[Cycle]]:
        """The cycles of the first load (up to all ``jobs`` rows), and the rest."""
        loaded = next(
            (n for n, c in enumerate(self.cycles, 1) if c.rows >= jobs),
            len(self.cycles),
        )
        return self.cycles[:loaded], self.cycles[loaded:]


# --- archives and job objects -----------------------------------------------------


def recording_id(index: int) -> str:
    """A distinct recording id of the store's pattern for each archive or job."""
    year, month, day, hour, minute, second = FIRST_RECORDING
    minute, second = divmod(minute * 60 + second + index, 60)
    hour, minute = divmod(hour * 60 + minute, 60)
    return f"{year}_{month:02d}_{day:02d}_{hour % 24:02d}_{minute:02d}_{second:02d}_415"


class Member(NamedTuple):
    """One archive member's deflate stream, with what its headers say of it."""

    data: bytes
    crc: int
    size: int


def build_archives(folder: Path, count: int, frames: int) -> list[Path]:
    """``count`` zip recordings of ``frames`` JPEG-like frames, a GPS track and meta.

    The frames' bytes are skewed, not uniform, so deflate codes them as it would
    photos and inflating them costs what a real recording's does. A few distinct
    frames are compressed once and their deflate streams reused: hundreds of
    megabytes are then written in a second or two instead of compressed for a
    minute, and the extractor still inflates and checks every member.
    """
    rng = np.random.default_rng(7)
    pool = [_deflated(_frame(rng)) for _ in range(FRAME_POOL)]
    paths = []
    for rid in (recording_id(10_000 + n) for n in range(count)):
        Stop.check()
        paths.append(_write_zip(folder / f"{rid}.zip", rid, frames, pool))
    return paths


def _frame(rng: np.random.Generator) -> bytes:
    size = int(FRAME_BYTES * rng.uniform(0.9, 1.1))
    body = (rng.geometric(0.008, size=size) % 256).astype(np.uint8).tobytes()
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + body


def _deflated(body: bytes) -> Member:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw deflate, as zip stores it
    return Member(packer.compress(body) + packer.flush(), zlib.crc32(body), len(body))


def _write_zip(path: Path, rid: str, frames: int, pool: list[Member]) -> Path:
    track = "".join(f"{i},52.{i:06d},13.{i:06d}\n" for i in range(frames))
    members = [
        (f"{rid}/meta.json", _deflated(b'{"vehicle": "bench"}\n')),
        (f"{rid}/gps.csv", _deflated(track.encode())),
    ]
    members += [
        (f"{rid}/camera/{n:05d}.jpg", pool[n % len(pool)]) for n in range(frames)
    ]
    directory = []
    with open(path, "wb") as out:
        for name, member in members:
            encoded = name.encode()
            fields = (*_ZIP_STAMP, member.crc, len(member.data), member.size)
            directory.append(
                _CENTRAL.pack(0x02014B50, 20, 20, 0, 8, *fields, len(encoded), 0, 0)
                + _CENTRAL_TAIL.pack(0, 0, 0o100644 << 16, out.tell())
                + encoded
            )
            out.write(_LOCAL.pack(0x04034B50, 20, 0, 8, *fields, len(encoded), 0))
            out.write(encoded + member.data)
        start = out.tell()
        out.write(b"".join(directory))
        count, size = len(directory), out.tell() - start
        out.write(_END.pack(0x06054B50, 0, 0, count, count, size, start, 0))
    return path


def seed_jobs(progress: Any, client: Any, count: int, ttl: int) -> None:
    """``count`` job objects of the usual mix, newest first in the index."""
    from signpipe_gui.backend.pipeline_state import mirror_status

    now = time.time()
    failed = int(count * FAILED_SHARE)
    running = int(count * PIPELINE_RUNNING_SHARE)
    peers = int(count * PEER_ACTIVE_SHARE)
    for index in range(count):
        created = now - 3600 - index * 60
        if index < peers:
            job = _job(index, created, "running", host=PEER_HOST)
        elif index < peers + failed:
            job = _job(index, created, "error")
        else:
            job = _job(index, created, "done")
            pipeline = "running" if index < peers + failed + running else "done"
            mirror_status(client, _pipeline(job, pipeline), ttl_seconds=ttl)
        progress.create_job(job)


def _job(index: int, created: float, status: str, *, host: str = "") -> dict[str, Any]:
    rid = recording_id(index)
    size = 480_000_000 + index * 1_000
    files = 3_000 + index % 50
    job: dict[str, Any] = {
        "job_id": uuid.uuid4().hex,
        "status": status,
        "phase": "running",
        "progress_percent": 100 if status == "done" else 64,
        "total_files": files,
        "extracted_files": files if status == "done" else files // 2,
        "extract_size": size,
        "recording_id": rid,
        "error_msg": None,
        "error_details": None,
        "archive_name": f"{rid}.zip",
        "archive_path": f"/media/usb0/drive-{index // 20:03d}/{rid}.zip",
        "archive_size": size,
        "archive_sha256": uuid.uuid4().hex * 2,
        "archive_format": "zip",
        "bytes_total": size,
        "bytes_done": size if status == "done" else size // 2,
        "speed_bps": 180_000_000.0 if status == "running" else 0,
        "eta_seconds": 1.5 if status == "running" else None,
        "message": "Extracting files...",
        "host": host or "lab-ws-02",
        "pid": 4242,
        "created_at": created,
        "started_at": created + 1,
        "updated_at": created + 4,
        "finished_at": None if status == "running" else created + 4,
        "spool_path": None,
        "retry_of": None,
        "pipeline_task_id": uuid.uuid4().hex if status == "done" else None,
        "pipeline_status": "queued" if status == "done" else None,
    }
    if status == "error":
        job["error_msg"] = "The archive is truncated: it ends inside a member."
        job["error_details"] = {"code": "corrupt_archive", "member": "camera/0042.jpg"}
        job["spool_path"] = f"/srv/store/.signpipe/spool/{job['job_id']}/a.zip"
    return job


def _pipeline(job: dict[str, Any], status: str) -> dict[str, Any]:
    done = status == "done"
    return {
        "recording_id": job["recording_id"],
        "status": status,
        "stage": "report" if done else "detect",
        "progress_percent": 100 if done else 45,
        "task_id": job["pipeline_task_id"],
        "worker": "lab-worker-1",
        "attempt": 1,
        "job_id": job["job_id"],
        "created_at": job["finished_at"],
        "started_at": job["finished_at"],
        "finished_at": job["finished_at"] + 300 if done else None,
        "heartbeat_at": job["finished_at"] + 300,
        "error_msg": None,
        "error_details": None,
        "results": {"signs": 37, "frames": job["total_files"]} if done else None,
    }


# --- instruments ------------------------------------------------------------------


@types.coroutine
def gui_thread_time(
    coro: Coroutine[Any, Any, Any], sink: list[float]
) -> Generator[Any, Any, Any]:
    """Await ``coro`` and add to ``sink`` the time its own steps ran.

    The steps are what the event loop runs between two awaits of the coroutine; the
    waits for Redis in between are left out.
    """
    busy = 0.0
    step: Callable[[Any], Any] = coro.send
    value: Any = None
    while True:
        started = time.perf_counter()
        try:
            awaited = step(value)
        except StopIteration as stop:
            sink.append(busy + time.perf_counter() - started)
            return stop.value
        busy += time.perf_counter() - started
        try:
            value, step = (yield awaited), coro.send
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            value, step = exc, coro.throw


class StallWatch:
    """A precise timer; each gap between its ticks beyond the interval is a stall."""

    def __init__(self, figures: Figures) -> None:
        from PySide6.QtCore import Qt, QTimer

        self._figures = figures
        self.origin = 0.0
        self._last = 0.0
        self._last_cpu = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(int(TICK_SECONDS * 1000))
        self._timer.timeout.connect(self._on_tick)

    def start(self) -> None:
        self.origin = self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._on_tick()

    def _on_tick(self) -> None:
        # The GUI thread's own CPU time over the gap tells a stall spent working
        # from one spent waiting for a core or for the GIL.
        now, cpu = time.perf_counter(), time.thread_time()
        beyond = now - self._last - TICK_SECONDS
        if beyond > 0.001:
            stall = Stall(self._last - self.origin, beyond, cpu - self._last_cpu)
            self._figures.stalls.append(stall)
        self._last, self._last_cpu = now, cpu


def timed_poller_class() -> type:
    """A JobPoller that also records the GUI-thread time of each poll."""
    from signpipe_gui.widgets.job_poller import JobPoller, PollResult

    class TimedPoller(JobPoller):
        busy: list[float]

        async def poll_once(self) -> PollResult:
            result: PollResult = await gui_thread_time(super().poll_once(), self.busy)
            return result

    return TimedPoller


# --- the run ----------------------------------------------------------------------


class Stop:
    """Ctrl+C or SIGTERM, noted rather than raised, and acted on between steps.

    An exception raised inside a Qt callback is printed and dropped by PySide, so a
    KeyboardInterrupt from the default handler could be lost while the window is
    built or runs. The steps look at the flag instead: the setup unwinds (removing
    everything), the watch ends early and reports what it has.
    """

    requested = False

    @classmethod
    def install(cls) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, cls._request)

    @classmethod
    def check(cls) -> None:
        if cls.requested:
            raise KeyboardInterrupt

    @classmethod
    def _request(cls, signum: int, frame: object) -> None:
        cls.requested = True


def run_window(
    settings: Any, archives: list[Path], jobs: int, seconds: float, trash: Path
) -> Figures:
    """The window, the poller and the extractions on a qasync loop; the figures."""
    from PySide6.QtCore import QTimer

    loop = qasync_loop()
    figures = Figures(load_before=os.getloadavg())
    window = open_window(settings, figures)
    watch = StallWatch(figures)
    refill = Refill(window, archives, figures, trash)
    # A last guard: should anything hang, stopping the loop ends the run (with an
    # error) and the clean-up below still runs.
    QTimer.singleShot(int((LOAD_TIMEOUT + seconds + 30) * 1000), loop.stop)
    try:
        with loop:
            loop.run_until_complete(
                watch_window(window, watch, refill, figures, jobs, seconds)
            )
    finally:
        close_window(window)
        asyncio.set_event_loop(None)
    figures.load_after = os.getloadavg()
    return figures


def qasync_loop() -> Any:
    """A qasync loop over a QApplication, set up as the application does."""
    import qasync
    from PySide6.QtWidgets import QApplication

    from signpipe_gui.app import default_executor
    from signpipe_gui.gui_collector import GuiThreadCollector

    app = QApplication.instance() or QApplication(["signpipe-table-benchmark"])
    # Garbage is collected on the GUI thread, as in the application: its pauses
    # count among the stalls.
    GuiThreadCollector(parent=app).start()
    loop = qasync.QEventLoop(app)
    loop.set_default_executor(default_executor())
    asyncio.set_event_loop(loop)
    return loop


def open_window(settings: Any, figures: Figures) -> Any:
    """The real window on its own Redis clients, with the poll and apply timed."""
    import redis
    import redis.asyncio as aioredis

    from signpipe_gui.backend.celery_app import PIPELINE_QUEUE
    from signpipe_gui.widgets.main_window import MainWindow
    from signpipe_gui.widgets.services import WindowServices

    poller = timed_poller_class()(
        aioredis.Redis.from_url(settings.redis_url, socket_timeout=5),
        queue_name=PIPELINE_QUEUE,
    )
    poller.busy = figures.poll_busy
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    # Slots of a direct connection run in the order they were connected: one before
    # the window's and one after it time the window's handling of each result.
    applying = Applying(figures)
    poller.polled.connect(applying.started)
    window: Any = MainWindow(WindowServices(settings, client), poller)
    poller.polled.connect(applying.ended)
    applying.rows = window.model.rowCount
    window.timing = applying  # Qt holds a plain object's slots only weakly
    return window


def close_window(window: Any) -> None:
    """End the window's threads (cancelling extractions) and close its clients."""
    window.shutdown()
    window.close()
    window.services.progress.close()
    window.services.client.close()


class Applying:
    """Times the window's slot for each poll result."""

    def __init__(self, figures: Figures) -> None:
        self._figures = figures
        self._started = 0.0
        self.rows: Callable[[], int] = lambda: 0

    def started(self, result: Any) -> None:
        self._started = time.perf_counter()

    def ended(self, result: Any) -> None:
        apply = time.perf_counter() - self._started
        busy = self._figures.poll_busy[-1]  # the poll that made this result
        cycle = Cycle(result.seconds, busy, apply, len(result.jobs), self.rows())
        self._figures.cycles.append(cycle)


class Refill:
    """Drops an archive again when its extraction ends, so four keep running.

    The finished recording is first moved out of the store (one rename) into a
    folder removed at the end, so that deleting its files takes no share of the
    two cores while the window is watched.
    """

    def __init__(
        self, window: Any, archives: list[Path], figures: Figures, trash: Path
    ) -> None:
        self._window = window
        self._figures = figures
        self._archives = {path.stem: path for path in archives}
        self._trash = trash
        self.active = True
        window.pool.job_ended.connect(self._on_job_ended)

    def start(self) -> None:
        self._window.add_paths(self._archives.values())

    def _on_job_ended(self, final: dict[str, Any]) -> None:
        if not self.active:
            return
        if final.get("status") != "done":
            self._figures.extractions_failed.append(str(final.get("error_msg")))
            return
        self._figures.extractions_done += 1
        self._figures.extracted_bytes += int(final.get("extract_size") or 0)
        rid = str(final["recording_id"])
        recording = self._window.services.store.recording_path(rid)
        recording.rename(self._trash / f"{self._figures.extractions_done:04d}")
        self._window.add_paths([self._archives[rid]])


async def watch_window(
    window: Any,
    watch: StallWatch,
    refill: Refill,
    figures: Figures,
    jobs: int,
    seconds: float,
) -> None:
    """The whole run in one coroutine, so the poller never runs outside the loop."""
    try:
        await first_load(window, watch, refill, figures, jobs)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end and not Stop.requested:
            await asyncio.sleep(0.05)
        figures.seconds = time.perf_counter() - watch.origin
        figures.gui_cpu += time.thread_time()
    finally:
        refill.active = False
        watch.stop()
        await window.poller.stop()


async def first_load(
    window: Any, watch: StallWatch, refill: Refill, figures: Figures, jobs: int
) -> None:
    """Open the window, start it and the extractions, and wait for every row."""
    window.show()
    # Opening a window is not a stall of a running loop: watch from the moment the
    # empty window is on screen.
    await asyncio.sleep(0.2)
    watch.start()
    figures.gui_cpu = -time.thread_time()
    window.start()
    refill.start()
    deadline = time.perf_counter() + LOAD_TIMEOUT
    while window.model.rowCount() < jobs and not Stop.requested:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the table did not load {jobs} rows in time")
        await asyncio.sleep(0.01)
    figures.load_seconds = time.perf_counter() - watch.origin


# --- report -----------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(value: float, target: float) -> str:
    return "pass" if value <= target else "FAIL"


def report(figures: Figures, jobs: int) -> bool:
    """Print the figures against the targets; True when both targets are met."""
    load, steady = figures.split(jobs)
    if not steady:
        print("No poll after the first load; run longer (--seconds).")
        return False
    _print_run(figures, load, steady, jobs)
    cycle_p95 = percentile([c.seconds for c in steady], 0.95)
    worst = max((s.beyond for s in figures.stalls), default=0.0)
    header = f"{'after the first load':30} {'median':>9} {'p95':>9}  target   "
    print(f"\n{header}median / p95")
    _print_row("poll cycle", [c.seconds for c in steady], "≤ 5 ms", POLL_TARGET)
    _print_row("poll, GUI thread only", [c.busy for c in steady])
    _print_row("apply to the model", [c.apply for c in steady])
    print(
        f"{'longest stall, whole run':30} {'':>9} {ms(worst):>9}  ≤ 50 ms  "
        f"{verdict(worst, STALL_TARGET)}"
    )
    _print_stalls(figures)
    print(
        "load average (1, 5, 15 min): "
        f"{_load(figures.load_before)} before, {_load(figures.load_after)} after, "
        f"{os.cpu_count()} CPUs"
    )
    return cycle_p95 <= POLL_TARGET and worst <= STALL_TARGET


def _print_run(
    figures: Figures, load: list[Cycle], steady: list[Cycle], jobs: int
) -> None:
    changed = statistics.mean(c.changed for c in steady)
    rate = figures.extracted_bytes / figures.seconds / 1e6
    print(
        f"\n{figures.seconds:.1f} s watched: {jobs} jobs seeded, {steady[-1].rows} "
        f"rows at the end; {figures.extractions_done} extractions finished "
        f"({rate:.0f} MB/s), {len(figures.extractions_failed)} failed; "
        f"GUI thread on a CPU {figures.gui_cpu / figures.seconds * 100:.0f} % of it"
    )
    print(
        f"first load: {jobs} rows {figures.load_seconds:.2f} s after the start, "
        f"in {len(load)} polls; longest poll cycle "
        f"{ms(max(c.seconds for c in load))}, longest apply "
        f"{ms(max(c.apply for c in load))}"
    )
    print(f"then {len(steady)} polls, {changed:.1f} changed jobs each on average")
    for message in figures.extractions_failed[:3]:
        print(f"an extraction failed: {message}")


def _print_row(
    name: str, values: list[float], target: str = "", limit: float | None = None
) -> None:
    median, p95 = statistics.median(values), percentile(values, 0.95)
    result = ""
    if limit is not None:
        result = f"{verdict(median, limit)} / {verdict(p95, limit)}"
    print(f"{name:30} {ms(median):>9} {ms(p95):>9}  {target:8} {result}".rstrip())


def _print_stalls(figures: Figures) -> None:
    long = [s for s in figures.stalls if s.beyond > STALL_TARGET]
    over_16 = sum(s.beyond > 0.016 for s in figures.stalls)
    longest = sorted(figures.stalls, key=lambda s: s.beyond, reverse=True)[:5]
    where = ", ".join(f"{ms(s.beyond)} at {s.at:.1f} s" for s in longest)
    print(
        f"stalls over 16 ms: {over_16}, over 50 ms: {len(long)}; "
        f"longest: {where or 'none'}"
    )
    if long:
        # Low: the window waited for a core or for the GIL, not for its own work.
        busy = sum(s.cpu for s in long) / sum(s.beyond + TICK_SECONDS for s in long)
        print(f"GUI thread on a CPU during stalls over 50 ms: {busy * 100:.0f} %")


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in load)


# --- main -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    Stop.install()
    work = Path(tempfile.mkdtemp(prefix="signpipe-table-"))
    try:
        figures = run_in(work, args)
    except KeyboardInterrupt:
        print("Interrupted; nothing left behind.")
        return 130
    if Stop.requested:
        print("Interrupted; figures up to then:")
    return 0 if report(figures, args.jobs) else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="job objects (1000)")
    parser.add_argument("--seconds", type=float, default=0, help="watch time (20)")
    parser.add_argument("--quick", action="store_true", help="smaller archives, 6 s")
    parser.add_argument(
        "--extractions",
        type=int,
        default=EXTRACTIONS,
        help="extractions running meanwhile (4; 0 shows the table's own cost)",
    )
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (6.0 if args.quick else 20.0)
    return args


def run_in(work: Path, args: argparse.Namespace) -> Figures:
    """Set everything up in ``work``, run the window, and remove it all again."""
    from signpipe_gui.backend.redis_server import (
        ensure_embedded_redis,
        stop_embedded_redis,
    )
    from signpipe_gui.backend.settings import Settings

    data_dir = work / "data"
    try:
        _private_user_folders(work)
        server = ensure_embedded_redis(data_dir)
        settings = Settings(
            data_dir=data_dir,
            store=work / "store",
            redis_url=server.url,
            concurrent_extractions=max(1, args.extractions),
            run_worker=False,
        )
        print(f"Building {args.extractions} archives and {args.jobs} job objects")
        archives = build_archives(
            _folder(work, "archives"),
            args.extractions,
            QUICK_FRAMES if args.quick else FRAMES,
        )
        Stop.check()
        seed(settings, args.jobs)
        Stop.check()
        print(f"Watching the window for {args.seconds:.0f} s")
        trash = _folder(work, "removed")
        return run_window(settings, archives, args.jobs, args.seconds, trash)
    finally:
        stop_embedded_redis(data_dir)
        shutil.rmtree(work, ignore_errors=True)


def seed(settings: Any, jobs: int) -> None:
    """Write the job objects the window finds when it opens."""
    import redis

    from signpipe_gui.backend.progress import RedisProgressService

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    progress = RedisProgressService(client, ttl_seconds=settings.job_ttl_seconds)
    try:
        seed_jobs(progress, client, jobs, settings.job_ttl_seconds)
    finally:
        progress.close()
        client.close()


def _folder(work: Path, name: str) -> Path:
    folder = work / name
    folder.mkdir()
    return folder


def _private_user_folders(work: Path) -> None:
    """The window saves its layout with QSettings; keep that inside ``work``."""
    home = work / "home"
    os.environ["HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
    os.environ["XDG_DATA_HOME"] = str(home / ".local" / "share")
    os.environ["XDG_CACHE_HOME"] = str(home / ".cache")


if __name__ == "__main__":
    sys.exit(main())
