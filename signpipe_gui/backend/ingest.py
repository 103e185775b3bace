"""The extraction job: from an archive file to a whole recording in the store.

A job walks the contract's phases and percent bands, publishing its job object to
Redis as it goes (at most every ``settings.progress_interval`` seconds, and always at
a phase change):

- ``reading`` 0–15: the source is read once, in one pass that hashes it (sha256),
  recognises its format from the first bytes and writes each chunk into the job's
  spool folder on the store's disk. Percent follows the bytes read.
- ``writing`` 15–30: the spool copy is made durable, range by range, so the source
  drive can be unplugged and Retry needs no source. Percent follows the bytes
  flushed; when the kernel has written most of it back already this phase is short.
- ``extracting`` at 30: every member is listed and validated before one byte is
  written, free space is checked, and the recording id is claimed in Redis (which two
  workstations cannot both win) and checked against the store.
- ``running`` 30–100: members are streamed into a fresh staging folder; percent is
  weighted by bytes. The staged tree is verified against the listing, the recording's
  ``status.json`` is written into it, and one rename that never replaces moves it
  into the store. The pipeline is then dispatched and the job ends ``done`` at 100.

On failure or cancel the staging folder is removed, the claim released, the store and
the source left untouched. A failed job keeps its complete spool copy so that
``retry_job`` can start again without the source; a cancelled or finished job removes
it. ``bytes_total``/``bytes_done``/``speed_bps`` describe the current phase: the
archive's bytes while reading and writing, the recording's bytes while extracting.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import redis

from .archive import ArchiveLimits, Listing, open_archive, sniff_format, verify_tree
from .claim import RecordingClaim, already_exists
from .errors import ARCHIVE_FAULTS, ErrorCode, IngestError, JobCancelled
from .job_report import JobReport
from .jobs import STATUS_MESSAGES, JobStatus, Phase, new_job_id, now
from .progress import RedisProgressService
from .settings import Settings
from .spool import (
    SYNC_RANGE,
    OverlappedHash,
    disk_error,
    open_source,
    open_spool,
    read_chunk,
    spool_file_name,
    start_writeback,
    sync_range,
    write_chunk,
)
from .status_file import write_status
from .store import RecordingExistsError, RecordingStore

logger = logging.getLogger(__name__)

# Room left on the store's disk beyond the recording itself: file-system blocks,
# status.json, results the pipeline will write.
FREE_SPACE_MARGIN = 16 * 1024 * 1024
BLOCK_SIZE = 4096
# How long the last state waits for Redis to come back before the job gives up on it.
FINAL_PUBLISH_TIMEOUT = 180.0

INTERNAL_MESSAGE = "signpipe ran into an unexpected problem; the log has the details."


class DispatchResult(Protocol):
    """What the pipeline dispatcher answers (see backend.dispatch)."""

    task_id: str | None
    queued: bool
    reason: str | None


Dispatch = Callable[[str, str], DispatchResult]


class ExtractionJob:
    """One archive's way into the store, reported in a Redis job object."""

    def __init__(
        self,
        archive_path: Path,
        *,
        settings: Settings,
        store: RecordingStore,
        progress: RedisProgressService,
        cancel: threading.Event | None = None,
        job_id: str | None = None,
        dispatch: Dispatch | None = None,
        archive_name: str | None = None,
        retry_of: str | None = None,
        final_publish_timeout: float = FINAL_PUBLISH_TIMEOUT,
    ) -> None:
        self.archive_path = Path(archive_path)
        self.archive_name = archive_name or self.archive_path.name
        self.settings = settings
        self.store = store
        self.progress = progress
        self.cancel_event = cancel or threading.Event()
        self.job_id = job_id or new_job_id()
        self.dispatch = dispatch
        self.retry_of = retry_of
        self.final_publish_timeout = final_publish_timeout

        self._report = JobReport(
            progress,
            self.job_id,
            interval=settings.progress_interval,
            final_timeout=final_publish_timeout,
        )
        self._claim = RecordingClaim(
            progress,
            self.job_id,
            cancel=self.cancel_event,
            patience=final_publish_timeout,
        )
        self._spool_complete = False
        self._published = False

    # -- public -------------------------------------------------------------------

    def create(self) -> dict[str, Any]:
        """Publish the ``queued`` job object at once, so a row appears."""
        try:
            size: int | None = self.archive_path.stat().st_size
        except OSError:
            size = None
        job = {
            "job_id": self.job_id,
            "status": JobStatus.QUEUED.value,
            "phase": None,
            "progress_percent": 0,
            "total_files": None,
            "extracted_files": 0,
            "extract_size": None,
            "recording_id": None,
            "error_msg": None,
            "error_details": None,
            "archive_name": self.archive_name,
            "archive_path": str(self.archive_path),
            "archive_size": size,
            "archive_sha256": None,
            "archive_format": None,
            "bytes_total": size,
            "bytes_done": 0,
            "speed_bps": None,
            "eta_seconds": None,
            "message": STATUS_MESSAGES[JobStatus.QUEUED],
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "created_at": now(),
            "started_at": None,
            "updated_at": now(),
            "finished_at": None,
            "spool_path": None,
            "retry_of": self.retry_of,
            "pipeline_task_id": None,
            "pipeline_status": None,
        }
        self._report.create(job)
        logger.info("Job %s queued: archive=%s", self.job_id, self.archive_name)
        return self.snapshot()

    def adopt(self, job: dict[str, Any]) -> None:
        """Run on from the object another process created for this job."""
        self._report.adopt(job)

    def snapshot(self) -> dict[str, Any]:
        """A copy of the latest job object (also while Redis is away)."""
        return self._report.snapshot()

    def cancel(self) -> None:
        """Ask the job to stop; run() then ends ``cancelled`` and cleans up."""
        self.cancel_event.set()

    def run(self) -> dict[str, Any]:
        """Run every phase and return the final job object; failures end in it."""
        if not self._report.created:
            self.create()
        started = time.monotonic()
        self._set(started_at=now())
        logger.info("Job %s started: archive=%s", self.job_id, self.archive_path)

        try:
            self._run_phases()
        except JobCancelled:
            self._end_cancelled()
        except IngestError as exc:
            self._end_failed(exc)
        except Exception:
            logger.exception("Job %s failed unexpectedly", self.job_id)
            self._end_failed(IngestError(ErrorCode.INTERNAL, INTERNAL_MESSAGE))

        self._report.publish_final()
        final = self.snapshot()
        logger.info(
            "Job %s ended %s in %.1f s: recording=%s",
            self.job_id,
            final["status"],
            time.monotonic() - started,
            final["recording_id"],
        )
        return final

    # -- phases -------------------------------------------------------------------

    def _run_phases(self) -> None:
        try:
            self.store.ensure()
        except OSError as exc:
            raise disk_error(exc, "preparing the store's folders") from exc
        spool, fmt = self._read_into_spool()
        self._make_durable(spool)

        self._enter(Phase.EXTRACTING)
        limits = ArchiveLimits.from_settings(self.settings)
        with open_archive(
            spool, limits, archive_name=self.archive_name, fmt=fmt
        ) as reader:
            listing = reader.listing()
            self._set(
                recording_id=listing.recording_id,
                total_files=listing.total_files,
            )
            self._check_free_space(listing)
            self._claim_recording(listing.recording_id)

            self._enter(Phase.RUNNING, bytes_total=listing.total_bytes)
            try:
                staging = self.store.new_staging_dir(self.job_id)
            except OSError as exc:
                raise disk_error(exc, "preparing the staging folder") from exc
            reader.extract(
                listing,
                staging,
                on_progress=self._on_extract_progress,
                cancel=self.cancel_event,
            )

        self._finish(listing, staging)

    def _read_into_spool(self) -> tuple[Path, Any]:
        """Reading 0–15: hash the source, sniff its format, copy it into the spool."""
        self._enter(Phase.READING)
        source = open_source(self.archive_path, self.archive_name)
        size = os.fstat(source.fileno()).st_size
        spool_dir = self.store.spool_dir(self.job_id)
        try:
            spool_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise disk_error(exc, "copying the archive into the store") from exc
        spool = spool_dir / spool_file_name(self.archive_name)
        self._set(archive_size=size, bytes_total=size, spool_path=str(spool))

        fmt = None
        done = handed_to_disk = 0
        with source, open_spool(spool) as target, OverlappedHash() as digest:
            while True:
                self._check_cancel()
                buffer = digest.free_buffer()
                count = read_chunk(source, buffer, self.archive_name)
                if count == 0:
                    break
                chunk = memoryview(buffer)[:count]
                if fmt is None:
                    fmt = self._recognise(bytes(chunk[:4096]))
                digest.update(chunk)
                write_chunk(target, chunk)
                done += count
                if done - handed_to_disk >= SYNC_RANGE:
                    # Let the disk start on what is written while reading goes on;
                    # the writing phase then mostly waits for work already done.
                    start_writeback(target.fileno(), handed_to_disk, done)
                    handed_to_disk = done
                self._progress(Phase.READING, done, size)
            sha256 = digest.hexdigest()

        if fmt is None:
            raise IngestError(ErrorCode.EMPTY, "The archive file is empty.")
        self._set(archive_sha256=sha256, archive_format=str(fmt))
        logger.info(
            "Job %s read archive: bytes=%d format=%s sha256=%s",
            self.job_id,
            done,
            fmt,
            sha256,
        )
        return spool, fmt

    def _recognise(self, head: bytes) -> Any:
        fmt = sniff_format(head)
        if fmt is None:
            raise IngestError(
                ErrorCode.UNKNOWN_FORMAT,
                f"{self.archive_name!r} is not an archive signpipe can read "
                "(zip, tar, tar.gz, tar.bz2, tar.xz or tar.zst).",
            )
        return fmt

    def _make_durable(self, spool: Path) -> None:
        """Writing 15–30: flush the spool copy to disk, reporting bytes flushed."""
        self._enter(Phase.WRITING)
        size = spool.stat().st_size
        try:
            fd = os.open(spool, os.O_RDONLY | os.O_CLOEXEC)
            try:
                offset = 0
                while offset < size:
                    self._check_cancel()
                    length = min(SYNC_RANGE, size - offset)
                    sync_range(fd, offset, length)
                    offset += length
                    self._progress(Phase.WRITING, offset, size)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise disk_error(exc, "writing the copy of the archive") from exc
        self._spool_complete = True
        self._progress(Phase.WRITING, size, size)
        self._after_spool_complete()

    def _check_free_space(self, listing: Listing) -> None:
        needed = (
            listing.total_bytes + listing.total_files * BLOCK_SIZE + FREE_SPACE_MARGIN
        )
        free = self.store.free_bytes()
        if needed > free:
            raise IngestError(
                ErrorCode.NO_SPACE,
                "There is not enough free space in the store for this recording.",
                limit=free,
                needed=needed,
            )

    def _claim_recording(self, recording_id: str) -> None:
        """Reserve the recording id in Redis, then check the store."""
        self._claim.take(recording_id)
        if self.store.has_recording(recording_id):
            raise already_exists(recording_id)

    def _on_extract_progress(self, files_done: int, bytes_done: int) -> None:
        self._set(extracted_files=files_done)
        total = self._report.get("bytes_total") or 0
        self._report.advance(Phase.RUNNING, bytes_done, total)
        self._claim.refresh_if_due()

    def _finish(self, listing: Listing, staging: Path) -> None:
        """Verify, write status.json, move into the store, dispatch, end done."""
        recording_id = listing.recording_id
        staged = staging / recording_id
        extract_size = verify_tree(staged, listing)
        self._check_cancel()

        # status.json goes in before the rename, so the recording appears whole.
        status = _initial_status(recording_id, self.snapshot(), listing, extract_size)
        write_status(staged, status)
        try:
            self.store.publish(staged, recording_id)
        except RecordingExistsError as exc:
            raise already_exists(recording_id) from exc
        except OSError as exc:
            raise disk_error(exc, "moving the recording into the store") from exc
        # From here on the recording is whole in the store: nothing may fail the job.
        self._published = True
        try:
            self.store.remove_job_files(self.job_id)
        except OSError:
            logger.exception("Job %s could not remove its work files", self.job_id)
        self._claim.release()
        logger.info(
            "Job %s stored recording %s: files=%d bytes=%d",
            self.job_id,
            recording_id,
            listing.total_files,
            extract_size,
        )

        self._set(extract_size=extract_size, spool_path=None)
        self._dispatch(recording_id)
        self._set(
            status=JobStatus.DONE.value,
            progress_percent=100,
            extracted_files=listing.total_files,
            bytes_done=listing.total_bytes,
            eta_seconds=0,
            message=STATUS_MESSAGES[JobStatus.DONE],
            finished_at=now(),
        )

    def _dispatch(self, recording_id: str) -> None:
        if self.dispatch is None:
            self._set(pipeline_status="not_queued")
            return
        try:
            result = self.dispatch(recording_id, self.job_id)
        except Exception:
            logger.exception(
                "Job %s could not queue the pipeline for %s", self.job_id, recording_id
            )
            self._set(pipeline_status="not_queued")
            return
        # The dispatcher wrote these into the job object itself, and the pipeline
        # task may already have moved them on ("running"): never write them back.
        self._report.leave_to_others("pipeline_status", "pipeline_task_id")
        self._set(
            pipeline_task_id=result.task_id,
            pipeline_status="queued" if result.queued else "not_queued",
        )
        logger.info(
            "Job %s pipeline for %s: queued=%s task=%s reason=%s",
            self.job_id,
            recording_id,
            result.queued,
            result.task_id,
            result.reason,
        )

    # -- endings ------------------------------------------------------------------

    def _end_failed(self, error: IngestError) -> None:
        keep_spool = (
            self._spool_complete
            and not self._published
            and error.code not in ARCHIVE_FAULTS
        )
        self._clean_up(keep_spool=keep_spool)
        logger.warning(
            "Job %s failed: code=%s member=%s %s",
            self.job_id,
            error.code,
            error.member,
            error.message,
        )
        self._set(
            status=JobStatus.ERROR.value,
            error_msg=error.message,
            error_details=error.details,
            message=error.message,
            speed_bps=None,
            eta_seconds=None,
            finished_at=now(),
            spool_path=self._report.get("spool_path") if keep_spool else None,
        )

    def _end_cancelled(self) -> None:
        self._clean_up(keep_spool=False)
        logger.info("Job %s cancelled", self.job_id)
        cancelled = JobCancelled()
        self._set(
            status=JobStatus.CANCELLED.value,
            error_msg=cancelled.message,
            error_details=cancelled.details,
            message=STATUS_MESSAGES[JobStatus.CANCELLED],
            speed_bps=None,
            eta_seconds=None,
            finished_at=now(),
            spool_path=None,
        )

    def _clean_up(self, *, keep_spool: bool) -> None:
        try:
            self.store.remove_job_files(self.job_id, keep_spool=keep_spool)
        except OSError:
            logger.exception("Job %s could not remove its work files", self.job_id)
        self._claim.release()

    # -- state and publishing -----------------------------------------------------

    def _enter(self, phase: Phase, *, bytes_total: int | None = None) -> None:
        """Start a phase (published at once), unless the job was cancelled."""
        self._check_cancel()
        self._report.enter(phase, bytes_total=bytes_total)

    def _progress(self, phase: Phase, done: int, total: int) -> None:
        self._report.advance(phase, done, total)

    def _set(self, **fields: Any) -> None:
        self._report.set(**fields)

    def _check_cancel(self) -> None:
        if self.cancel_event.is_set():
            raise JobCancelled()

    def _after_spool_complete(self) -> None:
        """A retry's own copy is whole: the failed job's copy is no longer needed."""
        if not self.retry_of:
            return
        self.store.remove_job_files(self.retry_of)
        try:
            self.progress.update_extraction_progress(self.retry_of, spool_path=None)
        except redis.RedisError:
            logger.debug("Job %s: old job %s not updated", self.job_id, self.retry_of)


def retry_job(
    job_id: str,
    *,
    settings: Settings,
    store: RecordingStore,
    progress: RedisProgressService,
    cancel: threading.Event | None = None,
    dispatch: Dispatch | None = None,
    final_publish_timeout: float = FINAL_PUBLISH_TIMEOUT,
) -> ExtractionJob:
    """A new job from a failed or cancelled job's spool copy (``retry_of`` = old id).

    Raises IngestError(NOT_FOUND) when the old job or its copy is gone, and
    ValueError when the old job has not ended in error.
    """
    old = progress.get_extraction_progress(job_id)
    if old is None:
        raise IngestError(ErrorCode.NOT_FOUND, "That job is no longer known.")
    if old.get("status") != JobStatus.ERROR.value:
        raise ValueError(f"job {job_id} has status {old.get('status')}, not error")
    archive_name = str(old.get("archive_name") or "archive")
    spool = store.spool_dir(job_id) / spool_file_name(archive_name)
    if (old.get("error_details") or {}).get("code") in ARCHIVE_FAULTS:
        raise IngestError(
            ErrorCode.NOT_FOUND,
            "This archive itself is faulty, so a retry would fail the same way; "
            "add a sound copy of it instead.",
        )
    if not spool.is_file():
        raise IngestError(
            ErrorCode.NOT_FOUND,
            "The saved copy of this archive is gone; add the archive again.",
        )
    if old.get("archive_size") not in (None, spool.stat().st_size):
        # A job interrupted while copying leaves half a copy behind.
        raise IngestError(
            ErrorCode.NOT_FOUND,
            "The saved copy of this archive is incomplete; add the archive again.",
        )
    if old.get("recording_id"):
        # An interrupted job may still hold its claim; the retry takes over.
        with contextlib.suppress(redis.RedisError):
            progress.release_recording(str(old["recording_id"]), job_id)

    job = ExtractionJob(
        spool,
        settings=settings,
        store=store,
        progress=progress,
        cancel=cancel,
        dispatch=dispatch,
        archive_name=archive_name,
        retry_of=job_id,
        final_publish_timeout=final_publish_timeout,
    )
    logger.info("Job %s retries job %s", job.job_id, job_id)
    return job


def _initial_status(
    recording_id: str, job: dict[str, Any], listing: Listing, size: int
) -> dict[str, Any]:
    """status.json of a freshly stored recording: pipeline queued, source recorded."""
    moment = now()
    return {
        "recording_id": recording_id,
        "status": "queued",
        "stage": None,
        "progress_percent": 0,
        "stages": [],
        "task_id": None,
        "worker": None,
        "attempt": 0,
        "created_at": moment,
        "updated_at": moment,
        "started_at": None,
        "finished_at": None,
        "heartbeat_at": None,
        "error_msg": None,
        "error_details": None,
        "results": None,
        "source": {
            "job_id": job["job_id"],
            "archive_name": job["archive_name"],
            "archive_sha256": job["archive_sha256"],
            "file_count": listing.total_files,
            "size": size,
        },
    }
