"""Building and advancing a recording's status dict (the content of status.json).

Pure functions: each takes a status dict and returns a new one, so the pipeline
runner, the Celery task and the tests share one way of filling in the schema.
"""

from __future__ import annotations

import copy
import enum
import time
from typing import Any

STAGES = ("inventory", "detect", "geotag", "report")
# Share of the whole run each stage takes, in percent (detection dominates).
STAGE_WEIGHTS = {"inventory": 5, "detect": 80, "geotag": 5, "report": 10}


class PipelineStatus(enum.StrEnum):
    """The pipeline's status for one recording."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"
    NOT_QUEUED = "not_queued"

    def __str__(self) -> str:
        return self.value


class StageStatus(enum.StrEnum):
    """One stage's status within a run."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


def new_stages() -> list[dict[str, Any]]:
    """The stage list of a run that has not started."""
    return [
        {
            "name": name,
            "status": StageStatus.PENDING.value,
            "percent": 0.0,
            "started_at": None,
            "finished_at": None,
            "message": "",
        }
        for name in STAGES
    ]


def new_status(
    recording_id: str,
    *,
    status: PipelineStatus = PipelineStatus.QUEUED,
    now: float | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A complete status dict with every field of the schema; ``fields`` override."""
    now = time.time() if now is None else now
    document: dict[str, Any] = {
        "recording_id": recording_id,
        "status": str(status),
        "stage": None,
        "progress_percent": 0.0,
        "stages": new_stages(),
        "task_id": None,
        "worker": None,
        "attempt": 0,
        "created_at": now,
        "updated_at": now,
        "started_at": None,
        "finished_at": None,
        "heartbeat_at": None,
        "error_msg": None,
        "error_details": None,
        "results": None,
        "source": None,
    }
    document.update(fields)
    return document


def start_run(status: dict[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """The status of a run beginning now: stages reset, old results and errors gone."""
    now = time.time() if now is None else now
    document = new_status(status.get("recording_id", ""), now=now)
    document.update({k: v for k, v in status.items() if k in document})
    document.update(
        status=PipelineStatus.RUNNING.value,
        stage=STAGES[0],
        progress_percent=0.0,
        stages=new_stages(),
        started_at=now,
        updated_at=now,
        heartbeat_at=now,
        finished_at=None,
        error_msg=None,
        error_details=None,
        results=None,
    )
    return document


def update_stage(
    status: dict[str, Any],
    name: str,
    *,
    percent: float | None = None,
    state: StageStatus | None = None,
    message: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The status with one stage's percent, state or message changed."""
    now = time.time() if now is None else now
    document = copy.deepcopy(status)
    stage = _stage(document, name)
    if state is StageStatus.RUNNING and stage["started_at"] is None:
        stage["started_at"] = now
        document["stage"] = name
    if state is not None:
        stage["status"] = state.value
        if state is not StageStatus.RUNNING:
            stage["finished_at"] = now
    if state is StageStatus.DONE:
        percent = 100.0
    if percent is not None:
        stage["percent"] = round(max(stage["percent"], min(percent, 100.0)), 1)
    if message is not None:
        stage["message"] = message

    document["progress_percent"] = max(
        document.get("progress_percent") or 0.0, overall_percent(document["stages"])
    )
    document["updated_at"] = document["heartbeat_at"] = now
    return document


def finish_run(
    status: dict[str, Any],
    final: PipelineStatus,
    *,
    results: dict[str, Any] | None = None,
    error_msg: str | None = None,
    error_details: dict[str, Any] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The status of a run that ended (done, error or cancelled)."""
    now = time.time() if now is None else now
    document = copy.deepcopy(status)
    if final is not PipelineStatus.DONE:
        # The stage that was running is where the run stopped.
        ended = (
            StageStatus.CANCELLED
            if final is PipelineStatus.CANCELLED
            else StageStatus.ERROR
        )
        for stage in document["stages"]:
            if stage["status"] == StageStatus.RUNNING.value:
                stage["status"] = ended.value
                stage["finished_at"] = now
    else:
        document["progress_percent"] = 100.0
    document.update(
        status=final.value,
        results=results,
        error_msg=error_msg,
        error_details=error_details,
        finished_at=now,
        updated_at=now,
        heartbeat_at=now,
    )
    return document


def overall_percent(stages: list[dict[str, Any]]) -> float:
    """The run's percent: each stage's percent weighted by its share."""
    total = sum(STAGE_WEIGHTS.get(s["name"], 0) for s in stages) or 1
    done = sum(STAGE_WEIGHTS.get(s["name"], 0) * s["percent"] for s in stages)
    return round(done / total, 1)


def _stage(document: dict[str, Any], name: str) -> dict[str, Any]:
    for stage in document["stages"]:
        if stage["name"] == name:
            return stage
    raise KeyError(f"no stage named {name!r}")
