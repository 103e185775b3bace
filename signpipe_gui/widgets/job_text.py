"""What a job and its pipeline look like in words: status, progress and stage text."""

from __future__ import annotations

from typing import Any

from signpipe_gui.backend.jobs import TERMINAL_STATUSES

from .formatting import count, human_bytes

ACTIVE_STATUSES = frozenset({"queued", "reading", "preparing", "running"})
PIPELINE_TERMINAL = frozenset({"done", "error", "cancelled"})

_STATUS_WORDS = {
    "queued": "Queued",
    "reading": "Reading",
    "preparing": "Preparing",
    "running": "Extracting",
    "done": "Done",
    "error": "Failed",
    "cancelled": "Cancelled",
}

_PIPELINE_WORDS = {
    "queued": "Queued",
    "running": "Running",
    "done": "Done",
    "error": "Failed",
    "cancelled": "Cancelled",
    "not_queued": "Not queued",
}


def is_active(job: dict[str, Any]) -> bool:
    return str(job.get("status")) in ACTIVE_STATUSES


def is_terminal(job: dict[str, Any]) -> bool:
    return str(job.get("status")) in {str(s) for s in TERMINAL_STATUSES}


def status_words(job: dict[str, Any]) -> str:
    status = str(job.get("status", "queued"))
    return _STATUS_WORDS.get(status, status.capitalize())


def progress_text(job: dict[str, Any]) -> str:
    """E.g. ``"Extracting · 1,204 / 3,000 files"``: the phase and how far it got."""
    status = str(job.get("status", "queued"))
    phase = str(job.get("phase") or "")
    total_files = job.get("total_files")

    if status == "queued":
        return "Queued · starts when an extraction ends"
    if status == "error":
        return str(job.get("error_msg") or "Failed")
    if status == "cancelled":
        return "Cancelled"
    if status == "done":
        return f"Done · {count(job.get('extracted_files') or total_files)} files"
    if phase == "reading":
        return f"Reading · {_bytes_of(job)}"
    if phase == "writing":
        return f"Copying to the store · {_bytes_of(job)}"
    if phase == "extracting":
        return "Checking archive contents"
    if phase == "running" and total_files:
        done = count(job.get("extracted_files"))
        return f"Extracting · {done} / {count(total_files)} files"
    return str(job.get("message") or status_words(job))


def _bytes_of(job: dict[str, Any]) -> str:
    done, total = job.get("bytes_done"), job.get("bytes_total")
    if total:
        return f"{human_bytes(done or 0)} / {human_bytes(total)}"
    return human_bytes(done or 0)


def pipeline_state(job: dict[str, Any], pipeline: dict[str, Any] | None) -> str:
    """The pipeline's status: from its live mirror, else what the job recorded.

    Only a job that stored its recording has a pipeline: a duplicate that failed
    names a recording whose pipeline belongs to the job that stored it.
    """
    if job.get("status") != "done":
        return ""
    if pipeline and pipeline.get("status"):
        return str(pipeline["status"])
    return str(job.get("pipeline_status") or "")


def pipeline_percent(job: dict[str, Any], pipeline: dict[str, Any] | None) -> float:
    state = pipeline_state(job, pipeline)
    if state == "done":
        return 100.0
    if pipeline:
        return float(pipeline.get("progress_percent") or 0)
    return 0.0


def pipeline_text(job: dict[str, Any], pipeline: dict[str, Any] | None) -> str:
    """E.g. ``"Detect · 45 %"`` or ``"Done · 12 signs"``; empty while extracting."""
    state = pipeline_state(job, pipeline)
    if not state:
        return ""
    pipeline = pipeline or {}
    if state == "running":
        stage = str(pipeline.get("stage") or "").capitalize() or "Running"
        return f"{stage} · {pipeline_percent(job, pipeline):.0f} %"
    if state == "done":
        signs = (pipeline.get("results") or {}).get("signs")
        if signs is None:
            return "Done"
        return f"Done · {count(signs)} sign{'' if signs == 1 else 's'}"
    if state == "error":
        return f"Failed · {pipeline.get('error_msg') or 'see results'}"
    if state == "not_queued":
        return "Not queued · waiting for the broker"
    return _PIPELINE_WORDS.get(state, state.capitalize())
