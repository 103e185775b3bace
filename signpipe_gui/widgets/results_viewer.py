"""A recording's pipeline: stages as they run, then the signs, the track and previews.

The viewer reads ``status.json`` and follows it while it changes (a cheap stat every
half second; the file is replaced whole by a rename, so a read never sees half of it).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from signpipe_gui.backend.recording_id import recording_time
from signpipe_gui.backend.status_file import StatusFileError, read_status, status_path

from .formatting import count, human_duration
from .track_plot import PlottedSign, TrackPlot

logger = logging.getLogger(__name__)

FOLLOW_INTERVAL_MS = 500
PREVIEW_HEIGHT = 200
ROW_HEIGHT = 24
# The signs table's columns fit in this; the track is mostly taller than wide.
SIGNS_WIDTH = 600
TRACK_WIDTH = 480

_STATE_WORDS = {
    "queued": "Queued: waiting for a worker",
    "running": "Running",
    "done": "Done",
    "error": "Failed",
    "cancelled": "Cancelled",
    "not_queued": "Not queued yet: it will be sent when Redis answers",
}
_STAGE_WORDS = {
    "pending": "Waiting",
    "running": "Running",
    "done": "Done",
    "error": "Failed",
    "cancelled": "Cancelled",
}
_STAGE_HEADERS = ("Stage", "Status", "Progress", "Duration", "Message")
_SIGN_HEADERS = ("Class", "Frames", "Position", "Score", "Best frame")


class ResultsViewer(QWidget):
    """One recording's status.json, followed, with its results once there."""

    def __init__(
        self,
        recording_dir: Path,
        *,
        on_rerun: Callable[[], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.recording_dir = Path(recording_dir)
        self.status: dict[str, Any] | None = None
        self.problem: str | None = None
        self._stamp: tuple[int, int] | None = None
        self._results_key: Any = None
        self._on_rerun = on_rerun
        self.setWindowTitle(f"Results · {self.recording_dir.name}")
        self.resize(1100, 800)

        self._build()
        self.reload()
        self._timer = QTimer(self)
        self._timer.setInterval(FOLLOW_INTERVAL_MS)
        self._timer.timeout.connect(self.reload)
        self._timer.start()

    # -- building -----------------------------------------------------------------

    def _build(self) -> None:
        title = QLabel(self.recording_dir.name)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        title.setFont(font)
        self.state_label = QLabel()
        self.state_label.setStyleSheet("font-weight: bold")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #8c1d18")
        self.message.hide()
        self.summary = QLabel()
        self.summary.setWordWrap(True)

        self.stages = _table(_STAGE_HEADERS)
        self.signs = _table(_SIGN_HEADERS)
        self.track = TrackPlot()

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.state_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.stages)
        layout.addWidget(self.summary)
        layout.addLayout(self._build_results(), 1)
        layout.addLayout(self._build_buttons())
        _fit_rows(self.stages)

    def _build_results(self) -> QVBoxLayout:
        """The signs beside the track they were found on, the previews below.

        All three at once: a sign in the table, its dot on the track and its frame
        are what a user compares.
        """
        side_by_side = QSplitter(Qt.Orientation.Horizontal)
        side_by_side.addWidget(_titled("Signs", self.signs))
        side_by_side.addWidget(_titled("GPS track", self.track))
        side_by_side.setChildrenCollapsible(False)
        side_by_side.setSizes([SIGNS_WIDTH, TRACK_WIDTH])

        self.previews = QWidget()
        self.previews_layout = QGridLayout(self.previews)
        self.previews_layout.setAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        )
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.previews)
        # A row of previews and the scroll bar under it, no more.
        margins = self.previews_layout.contentsMargins()
        bar = scroll.horizontalScrollBar().sizeHint().height()
        scroll.setFixedHeight(
            PREVIEW_HEIGHT + margins.top() + margins.bottom() + bar + 4
        )

        column = QVBoxLayout()
        column.addWidget(side_by_side, 1)
        column.addWidget(_titled("Previews", scroll))
        return column

    def _build_buttons(self) -> QHBoxLayout:
        self.open_folder_button = QPushButton("Open recording folder")
        self.open_folder_button.clicked.connect(lambda: self._open(self.recording_dir))
        self.files_button = QToolButton()
        self.files_button.setText("Open result file")
        self.files_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.files_menu = QMenu(self.files_button)
        self.files_button.setMenu(self.files_menu)
        self.rerun_button = QPushButton("Run pipeline again")
        self.rerun_button.clicked.connect(self._on_rerun_clicked)
        self.rerun_button.setEnabled(self._on_rerun is not None)
        close = QPushButton("Close")
        close.clicked.connect(self.close)

        row = QHBoxLayout()
        row.addWidget(self.open_folder_button)
        row.addWidget(self.files_button)
        row.addWidget(self.rerun_button)
        row.addStretch(1)
        row.addWidget(close)
        return row

    # -- following status.json ----------------------------------------------------

    def reload(self) -> None:
        """Read status.json again if it changed since the last read."""
        stamp = _stamp(status_path(self.recording_dir))
        if stamp is not None and stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            status = read_status(self.recording_dir)
        except StatusFileError as exc:
            self._show_problem(_problem_words(exc, self.recording_dir))
            return
        self.problem = None
        self.status = status
        self._show_status(status)

    def _show_problem(self, text: str) -> None:
        self.problem = text
        self.status = None
        self.state_label.setText("No pipeline status")
        self._set_message(text)
        self.progress.setValue(0)
        self.stages.setRowCount(0)
        _fit_rows(self.stages)
        self.summary.clear()

    def _show_status(self, status: dict[str, Any]) -> None:
        state = str(status.get("status") or "")
        words = _STATE_WORDS.get(state, state.capitalize() or "Unknown")
        if state == "running" and status.get("stage"):
            words = f"Running: {status['stage']}"
        worker = status.get("worker")
        self.state_label.setText(
            f"Pipeline: {words}" + (f" · on {worker}" if worker else "")
        )
        self.progress.setValue(round(float(status.get("progress_percent") or 0)))
        # A finished run's stages say it all; a full bar would only repeat them.
        self.progress.setVisible(state != "done")
        self._set_message(str(status.get("error_msg") or ""))
        self._fill_stages(status.get("stages") or [])

        results = status.get("results") or None
        self.summary.setText(_summary_words(results) if results else "")
        key = (
            status.get("finished_at"),
            json.dumps(results, sort_keys=True, default=str),
        )
        if results and state == "done" and key != self._results_key:
            self._results_key = key
            self._show_results(results)

    def _fill_stages(self, stages: list[dict[str, Any]]) -> None:
        self.stages.setRowCount(len(stages))
        for row, stage in enumerate(stages):
            started, finished = stage.get("started_at"), stage.get("finished_at")
            duration = None
            if started:
                duration = (finished or time.time()) - float(started)
            state = str(stage.get("status", ""))
            cells = (
                str(stage.get("name", "")).capitalize(),
                _STAGE_WORDS.get(state, state.capitalize()),
                f"{float(stage.get('percent') or 0):.0f} %",
                human_duration(duration),
                str(stage.get("message") or ""),
            )
            for column, text in enumerate(cells):
                self.stages.setItem(row, column, QTableWidgetItem(text))
        _fit_rows(self.stages)

    def _set_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # -- results ------------------------------------------------------------------

    def _show_results(self, results: dict[str, Any]) -> None:
        files: dict[str, str] = results.get("files") or {}
        # status.json carries the counts; summary.json has the rest (track, previews).
        results = {**self._read_json(files.get("summary.json")), **results}
        self.files_menu.clear()
        for name, relative in files.items():
            path = self.recording_dir / relative
            self.files_menu.addAction(name, partial(self._open, path))
        features = list(
            self._read_json(files.get("signs.geojson")).get("features") or []
        )
        self._fill_signs(features)
        self.track.set_data(self._read_track(results), _plotted(features))
        self._fill_previews(
            [self.recording_dir / rel for n, rel in files.items() if "previews/" in n]
        )

    def _read_json(self, relative: str | None) -> dict[str, Any]:
        if not relative:
            return {}
        try:
            data = json.loads((self.recording_dir / relative).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("Result file %s unreadable: %s", relative, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _fill_signs(self, features: list[dict[str, Any]]) -> None:
        self.signs.setRowCount(len(features))
        for row, feature in enumerate(features):
            props = feature.get("properties") or {}
            coordinates = (feature.get("geometry") or {}).get("coordinates")
            position = (
                f"{coordinates[1]:.6f}, {coordinates[0]:.6f}"
                if coordinates
                else "no fix"
            )
            best_frame = str(props.get("best_frame") or "")
            cells = (
                str(props.get("class", "")),
                count(props.get("detections")),
                position,
                f"{float(props.get('score') or 0):.2f}",
                # The frame's name is its time; the folder is always the camera's.
                Path(best_frame).name,
            )
            items = [QTableWidgetItem(text) for text in cells]
            items[-1].setToolTip(best_frame)
            for column, item in enumerate(items):
                self.signs.setItem(row, column, item)

    def _read_track(self, results: dict[str, Any]) -> list[tuple[float, float]]:
        track_file = results.get("track_file")
        if not track_file:
            return []
        from signpipe_gui.backend.pipeline.gps import TrackError, read_track

        when = recording_time(self.recording_dir.name)
        try:
            points = read_track(
                self.recording_dir / track_file, when.timestamp() if when else None
            )
        except (OSError, TrackError, ValueError) as exc:
            logger.warning("Track of %s unreadable: %s", self.recording_dir.name, exc)
            return []
        return [(p.lat, p.lon) for p in points]

    def _fill_previews(self, paths: list[Path]) -> None:
        while self.previews_layout.count():
            item = self.previews_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for number, path in enumerate(paths):
            label = QLabel()
            pixmap = QPixmap(str(path))
            if pixmap.isNull():
                label.setText(f"{path.name} cannot be shown")
            else:
                label.setPixmap(
                    pixmap.scaledToHeight(
                        PREVIEW_HEIGHT, Qt.TransformationMode.SmoothTransformation
                    )
                )
            label.setToolTip(path.name)
            # One row that scrolls sideways, so the previews take little height.
            self.previews_layout.addWidget(label, 0, number)

    # -- buttons ------------------------------------------------------------------

    def _open(self, path: Path) -> None:
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            # Nothing on this desktop opens such a file or folder: say where it is.
            self._set_message(f"No application could open {path}")

    def _on_rerun_clicked(self) -> None:
        if self._on_rerun is not None:
            self._on_rerun()
            self.state_label.setText("Pipeline: asking for a new run…")

    def closeEvent(self, event: Any) -> None:
        self._timer.stop()
        super().closeEvent(event)


def _table(headers: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(
        QHeaderView.ResizeMode.ResizeToContents
    )
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fit_rows(table: QTableWidget) -> None:
    """Make ``table`` exactly as tall as its rows: no empty band below them."""
    rows = sum(table.rowHeight(row) for row in range(table.rowCount()))
    header = table.horizontalHeader().sizeHint().height()
    table.setFixedHeight(rows + header + 2 * table.frameWidth())


def _titled(title: str, widget: QWidget) -> QWidget:
    """``widget`` under a small bold heading."""
    heading = QLabel(title)
    heading.setStyleSheet("font-weight: bold")
    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 4, 0, 0)
    column.setSpacing(2)
    column.addWidget(heading)
    column.addWidget(widget, 1)
    return holder


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _problem_words(exc: StatusFileError, recording_dir: Path) -> str:
    if not recording_dir.is_dir():
        return f"The recording {recording_dir.name} is not in this workstation's store."
    if "missing" in str(exc):
        return "This recording has no status.json: its pipeline was never queued."
    return f"The pipeline status cannot be shown: {exc}."


def _summary_words(results: dict[str, Any]) -> str:
    parts = [
        f"{count(results.get('frames'))} frames",
        f"{count(results.get('detections'))} detections",
        f"{count(results.get('signs'))} signs",
    ]
    by_class = results.get("signs_by_class") or {}
    if by_class:
        parts.append(", ".join(f"{name} {n}" for name, n in by_class.items()))
    if results.get("geotagged_signs") is not None:
        parts.append(f"{count(results.get('geotagged_signs'))} signs geotagged")
    return " · ".join(parts)


def _plotted(features: list[dict[str, Any]]) -> list[PlottedSign]:
    plotted = []
    for feature in features:
        coordinates = (feature.get("geometry") or {}).get("coordinates")
        if coordinates:
            label = str((feature.get("properties") or {}).get("class", ""))
            plotted.append(PlottedSign(coordinates[1], coordinates[0], label))
    return plotted
