"""An extraction job run in a child process of its own, for the window.

An extraction spends much of its time in Python between system calls: listing and
checking members, opening and writing thousands of files. On threads of the window's
process it contends with the window for the one interpreter lock, and the window
waits for it for tenths of a second. In a child process (``signpipe extract-job``)
it has its own. It reports through the same Redis job object as ever, and hands its
final object back on stdout.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from typing import Any

import redis

from .errors import ErrorCode
from .ingest import ExtractionJob
from .jobs import JobStatus
from .settings import Settings, settings_env
from .worker_process import signpipe_command

logger = logging.getLogger(__name__)

DIED_MESSAGE = "The extraction stopped unexpectedly; Retry runs it again."


class ProcessExtraction:
    """An ExtractionJob created here and run by ``signpipe extract-job``."""

    def __init__(self, job: ExtractionJob, settings: Settings) -> None:
        self.job = job
        self.job_id = job.job_id
        self.settings = settings
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._cancelled = False

    def create(self) -> dict[str, Any]:
        """Publish the ``queued`` object here, so the row appears at once."""
        return self.job.create()

    def snapshot(self) -> dict[str, Any]:
        return self.job.snapshot()

    def cancel(self) -> None:
        """Ask the job to stop, whether it has started or not."""
        with self._lock:
            self._cancelled = True
            process = self._process
        self.job.cancel()
        if process is not None and process.stdin is not None:
            try:
                process.stdin.write("cancel\n")
                process.stdin.flush()
            except (OSError, ValueError):
                pass  # it has ended already

    def run(self) -> dict[str, Any]:
        """Run the job in its process and return the final job object."""
        with self._lock:
            if self._cancelled:
                # Never started: end it cancelled here, which costs nothing.
                return self.job.run()
            self._process = process = self._start()
        final = self._talk(process)
        return final if final is not None else self._died(process.returncode)

    def _start(self) -> subprocess.Popen[str]:
        # Started from an extraction thread, the process inherits its lower CPU
        # priority (a Linux thread's nice value passes to what it starts).
        return subprocess.Popen(
            signpipe_command("extract-job"),
            env=settings_env(self.settings),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def _talk(self, process: subprocess.Popen[str]) -> dict[str, Any] | None:
        """Send the job, wait for the end, return the final object it printed."""
        assert process.stdin is not None
        assert process.stdout is not None
        request = {
            "archive_path": str(self.job.archive_path),
            "job": self.job.snapshot(),
        }
        try:
            process.stdin.write(json.dumps(request, default=str) + "\n")
            process.stdin.flush()
        except OSError:
            logger.warning("Extraction process of job %s did not start", self.job_id)
        with process.stdout:
            lines = process.stdout.readlines()
        process.wait()
        try:
            process.stdin.close()
        except OSError:
            pass  # the cancel watcher is gone with the process
        if process.returncode != 0 or not lines:
            return None
        try:
            final: dict[str, Any] = json.loads(lines[-1])
        except ValueError:
            return None
        return final

    def _died(self, code: int | None) -> dict[str, Any]:
        """The process ended without a final object: fail the job in words."""
        logger.error(
            "Extraction process of job %s ended with code %s", self.job_id, code
        )
        failed = {
            "status": JobStatus.ERROR.value,
            "error_msg": DIED_MESSAGE,
            "error_details": {"code": ErrorCode.INTERNAL.value, "exit_code": code},
            "message": DIED_MESSAGE,
            "speed_bps": None,
            "eta_seconds": None,
            "finished_at": time.time(),
        }
        progress = self.job.progress
        latest = self.job.snapshot()
        try:
            latest = progress.get_extraction_progress(self.job_id) or latest
            progress.update_extraction_progress(self.job_id, **failed)
            if latest.get("recording_id"):
                progress.release_recording(str(latest["recording_id"]), self.job_id)
        except redis.RedisError as exc:
            logger.warning("Job %s not marked failed in Redis: %s", self.job_id, exc)
        try:
            self.job.store.remove_job_files(self.job_id, keep_spool=True)
        except OSError:
            logger.exception("Job %s: work files not removed", self.job_id)
        return {**latest, **failed}
