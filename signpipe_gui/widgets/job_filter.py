"""The job table's filter: a text box and quick filters over the job model."""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt

from . import job_text
from .job_table_model import Column, IsLocalRole, JobRole, SortRole


class QuickFilter(enum.StrEnum):
    """The quick filters above the table."""

    ALL = "All"
    ACTIVE = "Active"
    FAILED = "Failed"
    DONE = "Done"
    THIS_WORKSTATION = "This workstation"


_SEARCHED = (Column.RECORDING, Column.ARCHIVE, Column.STATUS, Column.WORKSTATION)


class JobFilterModel(QSortFilterProxyModel):
    """Sorts by each column's sort role; filters by quick filter and free text."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._quick = QuickFilter.ALL
        self._text = ""
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(True)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    @property
    def quick_filter(self) -> QuickFilter:
        return self._quick

    def set_quick_filter(self, quick: QuickFilter) -> None:
        if quick != self._quick:
            self.beginFilterChange()
            self._quick = quick
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_text(self, text: str) -> None:
        text = text.strip().lower()
        if text != self._text:
            self.beginFilterChange()
            self._text = text
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        model = self.sourceModel()
        first = model.index(source_row, 0, source_parent)
        job = model.data(first, JobRole) or {}
        if not self._accepts_quick(job, bool(model.data(first, IsLocalRole))):
            return False
        if not self._text:
            return True
        return any(
            self._text
            in str(model.data(model.index(source_row, c, source_parent))).lower()
            for c in _SEARCHED
        )

    def _accepts_quick(self, job: dict[str, Any], is_local: bool) -> bool:
        if self._quick == QuickFilter.ACTIVE:
            return job_text.is_active(job)
        if self._quick == QuickFilter.FAILED:
            return job.get("status") == "error"
        if self._quick == QuickFilter.DONE:
            return job.get("status") == "done"
        if self._quick == QuickFilter.THIS_WORKSTATION:
            return is_local
        return True
