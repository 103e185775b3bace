"""``signpipe extract-job``: run one of the window's extraction jobs in this process.

Internal: the window starts it (see ``backend.job_process``) and talks to it over
its standard streams. The first line on stdin is the job: the archive, and the job
object the window already created. A later line ``cancel``, or the end of stdin (the
window has gone), cancels the job. The final job object is the one line on stdout;
logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from signpipe_gui.log_files import add_log_file

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: the job comes on stdin."""


def run(args: argparse.Namespace) -> int:
    from signpipe_gui.backend.connection import connect
    from signpipe_gui.backend.ingest import ExtractionJob
    from signpipe_gui.backend.progress import RedisProgressService
    from signpipe_gui.backend.settings import Settings
    from signpipe_gui.backend.store import RecordingStore

    request: dict[str, Any] = json.loads(sys.stdin.readline())
    created: dict[str, Any] = request["job"]
    settings = Settings.load()
    _log_beside_the_window(settings.data_dir / "logs" / "signpipe.log")
    client = connect(settings)
    progress = RedisProgressService(client, ttl_seconds=settings.job_ttl_seconds)
    job = ExtractionJob(
        Path(request["archive_path"]),
        settings=settings,
        store=RecordingStore(settings.store_path),
        progress=progress,
        job_id=str(created["job_id"]),
        dispatch=_dispatcher(settings),
        archive_name=created.get("archive_name"),
        retry_of=created.get("retry_of"),
    )
    job.adopt(created)
    threading.Thread(
        target=_cancel_when_asked, args=(job,), name="cancel-watch", daemon=True
    ).start()

    try:
        final = job.run()
    finally:
        progress.close()
        client.close()
    sys.stdout.write(json.dumps(final, default=str) + "\n")
    sys.stdout.flush()
    return 0


def _log_beside_the_window(path: Path) -> None:
    """Append to the window's log too, so an admin finds a job's story in one file."""
    try:
        add_log_file(path)
    except OSError as exc:
        logger.warning("Job log not written to %s: %s", path, exc)


def _dispatcher(settings: Any) -> Any:
    """The pipeline dispatch the window's own jobs use."""
    from signpipe_gui.backend.dispatch import dispatch_pipeline

    def dispatch(recording_id: str, job_id: str) -> Any:
        return dispatch_pipeline(settings, recording_id, job_id)

    return dispatch


def _cancel_when_asked(job: Any) -> None:
    """Cancel on a ``cancel`` line, or when stdin ends because the window is gone."""
    for line in sys.stdin:
        if line.strip() == "cancel":
            break
    logger.info("Job %s asked to stop", job.job_id)
    job.cancel()
