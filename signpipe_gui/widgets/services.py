"""The backend calls the window makes, bound to one set of settings.

The window never talks to the backend modules directly: it is handed one of these,
so tests build it on their own Redis and store.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from signpipe_gui.backend.errors import ErrorCode
from signpipe_gui.backend.progress import RedisProgressService
from signpipe_gui.backend.settings import Settings
from signpipe_gui.backend.store import RecordingStore

from . import job_text
from .status_bar import Probe

logger = logging.getLogger(__name__)

INTERRUPTED_MESSAGE = "Interrupted: signpipe was closed during extraction"


@dataclass
class WindowServices:
    """Settings, store, Redis and the backend operations behind the window's actions."""

    settings: Settings
    client: redis.Redis
    store: RecordingStore = field(init=False)
    progress: RedisProgressService = field(init=False)
    host: str = field(default_factory=socket.gethostname)
    ping_timeout: float = 1.0

    def __post_init__(self) -> None:
        self.store = RecordingStore(self.settings.store_path)
        self.progress = RedisProgressService(
            self.client, ttl_seconds=self.settings.job_ttl_seconds
        )

    def new_job(self, archive_path: Path) -> Any:
        """A job for a dropped archive, to be run in its own process (not yet run)."""
        from signpipe_gui.backend.ingest import ExtractionJob
        from signpipe_gui.backend.job_process import ProcessExtraction

        self.store.ensure()
        job = ExtractionJob(
            archive_path,
            settings=self.settings,
            store=self.store,
            progress=self.progress,
            dispatch=self._dispatch,
        )
        return ProcessExtraction(job, self.settings)

    def retry(self, job_id: str) -> Any:
        """A new job from a failed or interrupted job's spool copy."""
        from signpipe_gui.backend.ingest import retry_job
        from signpipe_gui.backend.job_process import ProcessExtraction

        job = retry_job(
            job_id,
            settings=self.settings,
            store=self.store,
            progress=self.progress,
            dispatch=self._dispatch,
        )
        return ProcessExtraction(job, self.settings)

    def rerun_pipeline(self, recording_id: str) -> Any:
        from signpipe_gui.backend.dispatch import rerun_pipeline

        return rerun_pipeline(self.settings, recording_id)

    def redrive_outbox(self) -> Any:
        from signpipe_gui.backend.dispatch import redrive_outbox

        return redrive_outbox(self.settings)

    def build_demo(self) -> Path:
        from signpipe_gui.backend.demo import build_demo_archive

        folder = self.settings.data_dir / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        return Path(build_demo_archive(folder))

    def remove_job(self, job_id: str) -> None:
        self.progress.remove_job(job_id)

    def probe(self) -> Probe:
        """Workers answering a ping, and free space in the store (slow: not on GUI)."""
        from signpipe_gui.backend.celery_app import app_for

        try:
            replies = app_for(self.settings).control.ping(timeout=self.ping_timeout)
            workers: int | None = len(replies or [])
        except Exception as exc:
            logger.info("Could not ask for workers: %s", exc)
            workers = None
        try:
            free: int | None = self.store.free_bytes()
        except OSError:
            free = None
        return Probe(workers, free)

    def recording_dir(self, recording_id: str) -> Path:
        return self.store.recording_path(recording_id)

    def recover_interrupted(self) -> list[str]:
        """Mark this workstation's jobs left active by a dead process as failed.

        A job whose pid is still alive belongs to a signpipe that is running (another
        window or ``signpipe submit``), so it is left alone.
        """
        recovered: list[str] = []
        for job in self.progress.list_jobs(limit=1000):
            if not self._is_orphan(job):
                continue
            job_id = str(job["job_id"])
            self.progress.update_extraction_progress(
                job_id,
                status="error",
                error_msg=INTERRUPTED_MESSAGE,
                error_details={"code": ErrorCode.INTERRUPTED.value},
                message=INTERRUPTED_MESSAGE,
                finished_at=time.time(),
                speed_bps=0,
                eta_seconds=None,
            )
            self.store.remove_job_files(job_id, keep_spool=True)
            if job.get("recording_id"):
                self.progress.release_recording(str(job["recording_id"]), job_id)
            logger.warning(
                "Job %s was interrupted; marked failed, Retry offered", job_id
            )
            recovered.append(job_id)
        return recovered

    def _is_orphan(self, job: dict[str, Any]) -> bool:
        if job.get("host") != self.host or not job_text.is_active(job):
            return False
        pid = job.get("pid")
        return not isinstance(pid, int) or pid == os.getpid() or not _pid_alive(pid)

    def _dispatch(self, recording_id: str, job_id: str) -> Any:
        from signpipe_gui.backend.dispatch import dispatch_pipeline

        return dispatch_pipeline(self.settings, recording_id, job_id)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
