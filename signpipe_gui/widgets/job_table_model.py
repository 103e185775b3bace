"""The job table's model: a thin adapter over job snapshots read from Redis.

The model holds the latest job object of each row and the latest pipeline status of
each recording. It paints nothing: the progress delegate reads the roles below.
"""

from __future__ import annotations

import enum
import itertools
import socket
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor

from . import job_text
from .formatting import human_bytes, human_duration, human_speed, human_time

JobRole = Qt.ItemDataRole.UserRole + 1  # the whole job object (dict)
ProgressRole = Qt.ItemDataRole.UserRole + 2  # percent of the column's bar (float)
StatusRole = Qt.ItemDataRole.UserRole + 3  # job status; pipeline state in its column
PipelineRole = Qt.ItemDataRole.UserRole + 4  # the pipeline status (dict or None)
JobIdRole = Qt.ItemDataRole.UserRole + 5  # the job id (str)
SortRole = Qt.ItemDataRole.UserRole + 6  # a value that sorts the column sensibly
IsLocalRole = Qt.ItemDataRole.UserRole + 7  # started on this workstation (bool)

AnyIndex = QModelIndex | QPersistentModelIndex

_ERROR_COLOR = QColor("#b3261e")
_DONE_COLOR = QColor("#1b6e2a")


class Column(enum.IntEnum):
    """The table's columns, in order."""

    RECORDING = 0
    ARCHIVE = 1
    STATUS = 2
    PROGRESS = 3
    SIZE = 4
    SPEED = 5
    ETA = 6
    PIPELINE = 7
    STARTED = 8
    WORKSTATION = 9


HEADERS = {
    Column.RECORDING: "Recording",
    Column.ARCHIVE: "Archive",
    Column.STATUS: "Status",
    Column.PROGRESS: "Progress",
    Column.SIZE: "Size",
    Column.SPEED: "Speed",
    Column.ETA: "ETA",
    Column.PIPELINE: "Pipeline",
    Column.STARTED: "Started",
    Column.WORKSTATION: "Workstation",
}


class JobTableModel(QAbstractTableModel):
    """Rows of job snapshots; updated in place, never reset on a poll."""

    def __init__(self, parent: Any = None, *, host: str | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[dict[str, Any]] = []
        self._rows: dict[str, int] = {}
        self._pipelines: dict[str, dict[str, Any]] = {}
        self.host = host or socket.gethostname()

    # -- Qt's model interface -------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._jobs)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Painting one cell asks for seven roles, most of which no column has; the
        # view repaints hundreds of cells at a time, so those return at once.
        if role not in _SERVED_ROLES:
            return None
        row = index.row()
        if not index.isValid() or not 0 <= row < len(self._jobs):
            return None
        job = self._jobs[row]
        column = _COLUMNS[index.column()]

        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(job, column)
        if role == JobRole:
            return job
        if role == JobIdRole:
            return job.get("job_id")
        if role == StatusRole:
            if column == Column.PIPELINE:
                return job_text.pipeline_state(job, self.pipeline_of(job))
            return str(job.get("status", ""))
        if role == PipelineRole:
            return self.pipeline_of(job)
        if role == ProgressRole:
            return self._percent(job, column)
        if role == SortRole:
            return self._sort_key(job, column)
        if role == IsLocalRole:
            return job.get("host") == self.host
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(job, column)
        if role == Qt.ItemDataRole.ForegroundRole and column == Column.STATUS:
            return self._status_color(job)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _RIGHT_ALIGNED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # -- updates --------------------------------------------------------------

    def upsert_jobs(self, jobs: Iterable[dict[str, Any]]) -> list[int]:
        """Apply job snapshots: changed rows get dataChanged, new jobs new rows."""
        changed: list[int] = []
        new: list[dict[str, Any]] = []
        for job in jobs:
            row = self._rows.get(str(job.get("job_id")))
            if row is None:
                new.append(job)
            elif self._jobs[row] != job:
                self._jobs[row] = job
                changed.append(row)

        for row in changed:
            self._emit_row_changed(row)
        if new:
            self._append(new)
        return changed

    def set_pipelines(self, pipelines: Mapping[str, dict[str, Any] | None]) -> None:
        """Apply pipeline statuses by recording id; only their rows change."""
        changed = {
            recording_id: status
            for recording_id, status in pipelines.items()
            if status is not None and self._pipelines.get(recording_id) != status
        }
        if not changed:
            return
        self._pipelines.update(changed)
        # One pass over the rows, and one signal per run of adjacent rows: a first
        # load brings hundreds of pipelines at once.
        rows = [
            row
            for row, job in enumerate(self._jobs)
            if job.get("recording_id") in changed
        ]
        for first, last in _runs(rows):
            self.dataChanged.emit(
                self.index(first, Column.PIPELINE), self.index(last, Column.PIPELINE)
            )

    def remove_job(self, job_id: str) -> None:
        row = self._rows.get(job_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._jobs[row]
        self._rows = {str(j.get("job_id")): i for i, j in enumerate(self._jobs)}
        self.endRemoveRows()

    # -- reading --------------------------------------------------------------

    def job(self, row: int) -> dict[str, Any]:
        return self._jobs[row]

    def job_by_id(self, job_id: str) -> dict[str, Any] | None:
        row = self._rows.get(job_id)
        return None if row is None else self._jobs[row]

    def row_of(self, job_id: str) -> int | None:
        return self._rows.get(job_id)

    def job_ids(self) -> list[str]:
        return list(self._rows)

    def pipeline_of(self, job: dict[str, Any]) -> dict[str, Any] | None:
        recording_id = job.get("recording_id")
        return self._pipelines.get(recording_id) if recording_id else None

    # -- private --------------------------------------------------------------

    def _append(self, jobs: list[dict[str, Any]]) -> None:
        first = len(self._jobs)
        self.beginInsertRows(QModelIndex(), first, first + len(jobs) - 1)
        for job in jobs:
            self._rows[str(job.get("job_id"))] = len(self._jobs)
            self._jobs.append(job)
        self.endInsertRows()

    def _emit_row_changed(
        self,
        row: int,
        first: Column = Column.RECORDING,
        last: Column = Column.WORKSTATION,
    ) -> None:
        self.dataChanged.emit(self.index(row, first), self.index(row, last))

    def _display(self, job: dict[str, Any], column: Column) -> str:
        active = job_text.is_active(job)
        if column == Column.RECORDING:
            return str(job.get("recording_id") or "—")
        if column == Column.ARCHIVE:
            return str(job.get("archive_name") or "")
        if column == Column.STATUS:
            return job_text.status_words(job)
        if column == Column.PROGRESS:
            return job_text.progress_text(job)
        if column == Column.SIZE:
            return human_bytes(job.get("archive_size"))
        if column == Column.SPEED:
            return human_speed(job.get("speed_bps")) if active else ""
        if column == Column.ETA:
            return human_duration(job.get("eta_seconds")) if active else ""
        if column == Column.PIPELINE:
            return job_text.pipeline_text(job, self.pipeline_of(job))
        if column == Column.STARTED:
            return human_time(job.get("started_at") or job.get("created_at"))
        return str(job.get("host") or "")

    def _percent(self, job: dict[str, Any], column: Column) -> float | None:
        if column == Column.PROGRESS:
            return float(job.get("progress_percent") or 0)
        if column == Column.PIPELINE:
            return job_text.pipeline_percent(job, self.pipeline_of(job))
        return None

    def _sort_key(self, job: dict[str, Any], column: Column) -> Any:
        if column == Column.PROGRESS:
            return float(job.get("progress_percent") or 0)
        if column == Column.SIZE:
            return int(job.get("archive_size") or 0)
        if column == Column.SPEED:
            return float(job.get("speed_bps") or 0)
        if column == Column.ETA:
            return float(job.get("eta_seconds") or 0)
        if column == Column.STARTED:
            return float(job.get("created_at") or 0)
        return self._display(job, column).lower()

    def _tooltip(self, job: dict[str, Any], column: Column) -> str | None:
        if job.get("status") == "error":
            return str(job.get("error_msg") or "Failed")
        if column == Column.PIPELINE:
            return job_text.pipeline_text(job, self.pipeline_of(job)) or None
        if column == Column.ARCHIVE:
            return str(job.get("archive_path") or "") or None
        return str(job.get("message") or "") or None

    def _status_color(self, job: dict[str, Any]) -> QColor | None:
        status = job.get("status")
        if status == "error":
            return _ERROR_COLOR
        if status == "done":
            return _DONE_COLOR
        return None


_RIGHT_ALIGNED = frozenset({Column.SIZE, Column.SPEED, Column.ETA})
_COLUMNS = tuple(Column)  # by number; indexing is cheaper than calling Column()
_SERVED_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.TextAlignmentRole,
        JobRole,
        ProgressRole,
        StatusRole,
        PipelineRole,
        JobIdRole,
        SortRole,
        IsLocalRole,
    }
)


def _runs(rows: list[int]) -> Iterator[tuple[int, int]]:
    """The first and last row of each run of consecutive rows in ascending ``rows``."""
    # Within a run, row minus position stays the same.
    for _, run in itertools.groupby(enumerate(rows), lambda pair: pair[1] - pair[0]):
        members = [row for _, row in run]
        yield members[0], members[-1]
