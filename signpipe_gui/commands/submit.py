"""``signpipe submit ARCHIVE...``: extract archives into the store without the window.

Jobs are created at once (so every workstation's window shows a row for each), then
run one or two at a time with a progress line per job. The same Redis job objects
are written as when the window runs them.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import shutil
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REDIS = 3
EXIT_INTERRUPTED = 130

REFRESH_SECONDS = 0.2
NAME_WIDTH = 32

EPILOG = """\
exit codes:
  0    every archive became a recording in the store
  1    at least one job failed or was cancelled (its error is printed)
  2    the command line or a setting was wrong
  3    Redis could not be reached (or the embedded one started)
  130  interrupted with Ctrl-C: running jobs were cancelled and cleaned up
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "archives", nargs="+", metavar="ARCHIVE", type=Path, help="archives to extract"
    )
    parser.add_argument("--store", type=Path, help="recordings store (folder)")
    parser.add_argument(
        "--redis-url", help="the lab's Redis (default: the embedded one)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print each job's final object as one JSON line on stdout "
        "(progress then goes to stderr)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        choices=(1, 2),
        help="archives extracted at once (default: the concurrent_extractions "
        "setting, at most 2)",
    )
    parser.add_argument(
        "--no-pipeline",
        action="store_true",
        help="do not queue the pipeline for the new recordings",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show each job's log lines (hidden by default behind the progress)",
    )


def run(args: argparse.Namespace) -> int:
    from signpipe_gui.backend.ingest import ExtractionJob
    from signpipe_gui.backend.store import RecordingStore

    # Job failures are shown in words on the progress lines; log lines would only
    # break them up. --verbose (or --log-level DEBUG) shows them.
    if not args.verbose and logging.getLogger().level == logging.INFO:
        logging.getLogger().setLevel(logging.ERROR)

    opened = open_services(args.store, args.redis_url)
    if opened is None:
        return EXIT_REDIS
    settings, client, progress = opened

    store = RecordingStore(settings.store_path)
    dispatch = None if args.no_pipeline else pipeline_dispatcher(settings)
    jobs = [
        ExtractionJob(
            path.absolute(),
            settings=settings,
            store=store,
            progress=progress,
            dispatch=dispatch,
        )
        for path in args.archives
    ]
    for job in jobs:
        job.create()

    display_stream = sys.stderr if args.json else sys.stdout
    display = ProgressDisplay(display_stream, [job.archive_name for job in jobs])
    workers = args.jobs or max(1, min(2, settings.concurrent_extractions))
    try:
        finals = _run_all(jobs, workers, display, as_json=args.json)
    finally:
        progress.close()
        client.close()

    failed = [job for job in finals if job["status"] != "done"]
    if any(job["status"] == "cancelled" for job in failed):
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failed else EXIT_OK


def open_services(store: Path | None, redis_url: str | None) -> Any:
    """Settings, a Redis client that answers, and the progress service; or None."""
    import redis

    from signpipe_gui.backend.connection import connect, describe
    from signpipe_gui.backend.progress import RedisProgressService
    from signpipe_gui.backend.redis_server import RedisServerError
    from signpipe_gui.backend.settings import Settings

    settings = Settings.load(store=store, redis_url=redis_url)
    try:
        client = connect(settings)
        client.ping()
    except RedisServerError as exc:
        sys.stderr.write(f"signpipe: {exc}\n")
        return None
    except redis.RedisError as exc:
        sys.stderr.write(
            f"signpipe: Redis ({describe(settings)}) cannot be reached: {exc}\n"
        )
        return None
    progress = RedisProgressService(client, ttl_seconds=settings.job_ttl_seconds)
    return settings, client, progress


def pipeline_dispatcher(settings: Any) -> Any:
    """``dispatch_pipeline`` bound to settings, or None where it is not installed."""
    try:
        from signpipe_gui.backend.dispatch import dispatch_pipeline
    except ImportError:
        logger.info("Pipeline dispatch is not available; recordings are not queued")
        return None
    return functools.partial(dispatch_pipeline, settings)


def _run_all(
    jobs: list[Any], workers: int, display: ProgressDisplay, *, as_json: bool
) -> list[dict[str, Any]]:
    """Run the jobs on ``workers`` threads, showing progress until all have ended."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract")
    futures: list[Future[dict[str, Any]]] = [pool.submit(job.run) for job in jobs]
    printed: set[int] = set()

    def report_ended() -> None:
        for index, future in enumerate(futures):
            if future.done() and index not in printed:
                printed.add(index)
                if as_json:
                    _print_json(future.result())

    try:
        while len(printed) < len(jobs):
            display.show([job.snapshot() for job in jobs])
            report_ended()
            time.sleep(REFRESH_SECONDS)
    except KeyboardInterrupt:
        # Queued jobs see the flag at their first step and end cancelled at once.
        for job in jobs:
            job.cancel()
        display.note("Cancelling: cleaning up the running jobs...")
    finally:
        pool.shutdown(wait=True)
    report_ended()

    finals = [future.result() for future in futures]
    display.show(finals)
    return finals


def _print_json(job: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(job, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


class ProgressDisplay:
    """One line per job: redrawn in place on a terminal, printed on change elsewhere."""

    def __init__(self, stream: TextIO, names: list[str]) -> None:
        self.stream = stream
        self.names = names
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._drawn = 0
        self._last: list[str] = [""] * len(names)
        self._lock = threading.Lock()

    def show(self, jobs: list[dict[str, Any]]) -> None:
        width = min(NAME_WIDTH, max(len(name) for name in self.names))
        lines = [
            describe_job(name, job, width)
            for name, job in zip(self.names, jobs, strict=True)
        ]
        with self._lock:
            if self.tty:
                self._redraw(lines)
            else:
                self._print_changes(jobs, lines)

    def note(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._drawn = 0

    def _redraw(self, lines: list[str]) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F")
        # A line longer than the terminal would wrap and spoil the count of lines
        # to move back over, so each is cut to the width.
        columns = shutil.get_terminal_size().columns - 1
        for line in lines:
            self.stream.write("\x1b[2K" + _fit(line, columns) + "\n")
        self._drawn = len(lines)
        self.stream.flush()

    def _print_changes(self, jobs: list[dict[str, Any]], lines: list[str]) -> None:
        # Off a terminal a line is printed when a job changes step, not per percent.
        for index, job in enumerate(jobs):
            key = f"{job.get('status')}/{job.get('phase')}"
            if key != self._last[index]:
                self._last[index] = key
                self.stream.write(lines[index] + "\n")
        self.stream.flush()


def describe_job(name: str, job: dict[str, Any], width: int = NAME_WIDTH) -> str:
    """One line of words about a job's state."""
    status = str(job.get("status") or "queued")
    percent = float(job.get("progress_percent") or 0)
    head = f"{_fit(name, width):<{width}}  {status:<9} {percent:5.1f}%"
    if status == "error":
        return f"{head}  {job.get('error_msg')}"
    if status == "done":
        return (
            f"{head}  {job.get('recording_id')}: {job.get('total_files')} files, "
            f"{format_bytes(job.get('extract_size'))}"
        )
    if status in ("queued", "cancelled"):
        return f"{head}  {job.get('message') or ''}"
    phase = str(job.get("phase") or "")
    parts = [head, f"{phase if phase != status else '':<10}"]
    if job.get("phase") == "running":
        parts.append(f"{job.get('extracted_files') or 0}/{job.get('total_files')}")
    if job.get("speed_bps"):
        parts.append(f"{format_bytes(job['speed_bps'])}/s")
    if job.get("eta_seconds") is not None:
        parts.append(f"ETA {format_seconds(job['eta_seconds'])}")
    return "  ".join(parts)


def format_bytes(value: Any) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def format_seconds(value: Any) -> str:
    seconds = int(float(value))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
    )


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
