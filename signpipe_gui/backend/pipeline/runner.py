"""run_pipeline: the four stages in order, with progress, cancellation and a result.

The caller (the Celery task) writes each status dict it receives to status.json and
to Redis; this module does not write status.json itself. It starts from the
recording's current status.json, when there is one, so that fields the caller owns
(task id, worker, attempt, source) are carried through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..settings import Settings
from ..status_file import StatusFileError, read_status
from . import geotag
from .detect import detect_frames, load_detector
from .inventory import take_inventory
from .report import write_report
from .status import (
    PipelineStatus,
    StageStatus,
    finish_run,
    new_status,
    start_run,
    update_stage,
)
from .types import PipelineCancelled, PipelineError

logger = logging.getLogger(__name__)

# At most this many on_update calls per second while stages run.
UPDATES_PER_SECOND = 4.0

# The fields of the final status copied into status.json's "results".
RESULT_FIELDS = (
    "frames",
    "frames_unreadable",
    "detections",
    "signs",
    "signs_by_class",
    "geotagged_signs",
    "track_points",
    "detector",
    "files",
)


class _Updates:
    """Hands status dicts to on_update, no more often than UPDATES_PER_SECOND."""

    def __init__(self, on_update: Callable[[dict[str, Any]], None] | None) -> None:
        self.on_update = on_update
        self.last_sent = 0.0

    def offer(self, status: dict[str, Any], *, final: bool = False) -> None:
        # A held-back status is not lost: the next one offered carries its content.
        now = time.monotonic()
        if final or now - self.last_sent >= 1.0 / UPDATES_PER_SECOND:
            self.last_sent = now
            if self.on_update is not None:
                self.on_update(status)


def run_pipeline(
    recording_dir: Path,
    settings: Settings,
    *,
    on_update: Callable[[dict[str, Any]], None] | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Run inventory, detect, geotag and report on a recording; return the final status.

    Errors end the run as ``error`` (with a sentence in ``error_msg``) and a set
    ``cancel`` as ``cancelled``: neither is raised.
    """
    recording_dir = Path(recording_dir)
    cancel = cancel or threading.Event()
    updates = _Updates(on_update)
    run = _Run(recording_dir, settings, updates, cancel)
    run.status = start_run(_initial_status(recording_dir))
    updates.offer(run.status, final=True)
    started = time.monotonic()

    try:
        results = run.stages()
    except PipelineCancelled:
        logger.info("Pipeline of %s cancelled", recording_dir.name)
        run.status = finish_run(
            run.status,
            PipelineStatus.CANCELLED,
            error_msg="The pipeline run was cancelled.",
            error_details={"code": "cancelled"},
        )
    except PipelineError as exc:
        logger.warning("Pipeline of %s failed: %s", recording_dir.name, exc.message)
        run.status = finish_run(
            run.status,
            PipelineStatus.ERROR,
            error_msg=exc.message,
            error_details=exc.details,
        )
    except Exception as exc:
        logger.exception("Pipeline of %s failed unexpectedly", recording_dir.name)
        run.status = finish_run(
            run.status,
            PipelineStatus.ERROR,
            error_msg=f"The pipeline failed unexpectedly ({type(exc).__name__}).",
            error_details={"code": "internal", "error": str(exc)},
        )
    else:
        run.status = finish_run(run.status, PipelineStatus.DONE, results=results)
        logger.info(
            "Pipeline of %s done: frames=%s signs=%s seconds=%.1f",
            recording_dir.name,
            results.get("frames"),
            results.get("signs"),
            time.monotonic() - started,
        )
    updates.offer(run.status, final=True)
    return run.status


class _Run:
    """One run's state: the current status dict and the stage steps."""

    def __init__(
        self,
        recording_dir: Path,
        settings: Settings,
        updates: _Updates,
        cancel: threading.Event,
    ) -> None:
        self.recording_dir = recording_dir
        self.settings = settings
        self.updates = updates
        self.cancel = cancel
        self.status: dict[str, Any] = {}

    def stages(self) -> dict[str, Any]:
        """All four stages; returns the results summary for status.json."""
        if not self.recording_dir.is_dir():
            raise PipelineError(
                "recording_missing",
                f"The recording folder {self.recording_dir.name} does not exist.",
            )

        self._begin("inventory", "Finding frames and the GPS track...")
        inventory = take_inventory(self.recording_dir, self.settings)
        self._end(
            "inventory",
            f"{len(inventory.frames)} frames, {len(inventory.track)} GPS fixes.",
        )

        self._begin("detect", "Loading the detector...")
        detector = load_detector(self.settings)
        detect_started = time.monotonic()
        detections, unreadable = detect_frames(
            inventory.frames,
            detector,
            on_progress=self._detect_progress,
            cancel=self.cancel,
        )
        detect_seconds = time.monotonic() - detect_started
        self._end("detect", f"{len(detections)} detections.")

        self._begin("geotag", "Placing detections on the GPS track...")
        located = geotag.locate(detections, inventory.track)
        signs = geotag.merge_signs(detections)
        self._end(
            "geotag",
            f"{len(signs)} sign{'' if len(signs) == 1 else 's'}, "
            f"{located} detection{'' if located == 1 else 's'} placed.",
        )

        self._begin("report", "Writing results...")
        facts = {
            "detector": detector.name,
            "frames_unreadable": unreadable,
            "detect_seconds": round(detect_seconds, 3),
            "detect_fps": round(len(inventory.frames) / max(detect_seconds, 1e-6), 2),
        }
        summary = write_report(
            self.recording_dir,
            inventory,
            detections,
            signs,
            facts,
            on_progress=lambda f: self._progress("report", f * 100),
        )
        self._end("report", "Results written.")
        return {name: summary[name] for name in RESULT_FIELDS if name in summary}

    def _begin(self, stage: str, message: str) -> None:
        if self.cancel.is_set():
            raise PipelineCancelled()
        self.status = update_stage(
            self.status, stage, state=StageStatus.RUNNING, message=message
        )
        self.updates.offer(self.status)

    def _end(self, stage: str, message: str) -> None:
        self.status = update_stage(
            self.status, stage, state=StageStatus.DONE, message=message
        )
        self.updates.offer(self.status)

    def _progress(self, stage: str, percent: float, message: str | None = None) -> None:
        self.status = update_stage(self.status, stage, percent=percent, message=message)
        self.updates.offer(self.status)

    def _detect_progress(self, done: int, total: int) -> None:
        self._progress(
            "detect", 100 * done / max(total, 1), f"Frame {done} of {total}."
        )


def _initial_status(recording_dir: Path) -> dict[str, Any]:
    """The recording's status.json, or a new status when it has none."""
    try:
        return read_status(recording_dir)
    except StatusFileError:
        return new_status(recording_dir.name)
