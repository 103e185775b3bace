"""The job object's vocabulary: statuses, phases, percent bands and the status shape.

A job object is one JSON document per archive at ``extraction:<job_id>``. This module
knows its fields and how a reader turns one into the status shape that the original
status endpoint returned; it does no I/O.
"""

from __future__ import annotations

import enum
import time
import uuid
from typing import Any


class JobStatus(enum.StrEnum):
    """The job's main status. ``queued`` and ``cancelled`` are signpipe's additions."""

    QUEUED = "queued"
    READING = "reading"
    PREPARING = "preparing"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    def __str__(self) -> str:
        return self.value


TERMINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED})


class Phase(enum.StrEnum):
    """The step of the extraction within its status."""

    READING = "reading"
    WRITING = "writing"
    EXTRACTING = "extracting"
    RUNNING = "running"

    def __str__(self) -> str:
        return self.value


# Percent bands of the contract: reading 0-15, writing 15-30, validation at 30,
# extracting files 30-100 and done at exactly 100.
PHASE_BANDS: dict[Phase, tuple[int, int]] = {
    Phase.READING: (0, 15),
    Phase.WRITING: (15, 30),
    Phase.EXTRACTING: (30, 30),
    Phase.RUNNING: (30, 100),
}

# The status each phase runs under, as in the original design's progression.
PHASE_STATUS: dict[Phase, JobStatus] = {
    Phase.READING: JobStatus.READING,
    Phase.WRITING: JobStatus.PREPARING,
    Phase.EXTRACTING: JobStatus.PREPARING,
    Phase.RUNNING: JobStatus.RUNNING,
}

PHASE_MESSAGES: dict[Phase, str] = {
    Phase.READING: "Reading archive...",
    Phase.WRITING: "Writing file to disk...",
    Phase.EXTRACTING: "Checking archive contents...",
    Phase.RUNNING: "Extracting files...",
}

STATUS_MESSAGES: dict[JobStatus, str] = {
    JobStatus.QUEUED: "Waiting for a free extraction slot...",
    JobStatus.DONE: "Recording extracted.",
    JobStatus.CANCELLED: "Cancelled.",
}


def band_percent(phase: Phase, fraction: float) -> float:
    """Percent for ``fraction`` (0..1) of the way through ``phase``'s band."""
    low, high = PHASE_BANDS[phase]
    fraction = min(max(fraction, 0.0), 1.0)
    return low + (high - low) * fraction


def new_job_id() -> str:
    return uuid.uuid4().hex


def now() -> float:
    """Wall-clock time as stored in job objects (seconds since the epoch)."""
    return time.time()


def status_shape(job: dict[str, Any]) -> dict[str, Any]:
    """The read side's answer for a job object: the original endpoint's shape.

    ``status``, ``phase``, ``percent`` and ``message`` first, then the counts, the
    recording id, the error fields and everything else the job object carries.
    """
    status = job.get("status", JobStatus.QUEUED.value)
    phase = job.get("phase")
    shape: dict[str, Any] = {
        "status": status,
        "phase": phase,
        "percent": int(job.get("progress_percent", 0)),
        "message": job.get("message") or _message_for(status, phase, job),
    }
    for name in (
        "total_files",
        "extracted_files",
        "extract_size",
        "recording_id",
        "error_msg",
        "error_details",
    ):
        shape[name] = job.get(name)
    for name, value in job.items():
        shape.setdefault(name, value)
    return shape


def _message_for(status: str, phase: str | None, job: dict[str, Any]) -> str:
    if status == JobStatus.ERROR.value:
        return str(job.get("error_msg") or "Failed.")
    try:
        job_status = JobStatus(status)
    except ValueError:
        return ""
    if job_status in STATUS_MESSAGES:
        return STATUS_MESSAGES[job_status]
    try:
        return PHASE_MESSAGES[Phase(phase)] if phase else ""
    except ValueError:
        return ""
