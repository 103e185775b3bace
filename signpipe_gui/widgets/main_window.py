"""The main window: drop archives, watch the job table, act on jobs."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from signpipe_gui import __version__
from signpipe_gui.backend.connection import describe

from .background import BackgroundTasks
from .drop_area import DropHighlight, EmptyState
from .extraction_pool import ExtractionPool
from .intake import ArchiveIntake, local_paths
from .job_actions import JobActions
from .job_filter import JobFilterModel
from .job_poller import JobPoller, PollResult
from .job_table_model import Column, JobTableModel
from .progress_delegate import ProgressDelegate
from .quick_filter_bar import QuickFilterBar
from .services import WindowServices
from .status_bar import StatusPanel
from .tray import TrayNotifier

logger = logging.getLogger(__name__)

NOTICE_MS = 10_000
# Progress takes the width left over: it carries a failed job's sentence.
_COLUMN_WIDTHS = {
    Column.RECORDING: 180,
    Column.ARCHIVE: 200,
    Column.STATUS: 85,
    Column.SIZE: 75,
    Column.SPEED: 85,
    Column.ETA: 70,
    Column.PIPELINE: 190,
    Column.STARTED: 75,
    Column.WORKSTATION: 100,
}


class MainWindow(QMainWindow):
    """signpipe's window over one set of services and one poller."""

    files_dropped = Signal(list)  # the local paths of a drop, as recorded
    closed = Signal()

    def __init__(
        self,
        services: WindowServices,
        poller: JobPoller,
        *,
        probe_interval_ms: int = 10_000,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.poller = poller
        self.setWindowTitle("signpipe")
        self.setAcceptDrops(True)
        self._pending_paths: list[Path] = []
        self._shut_down = False

        self.model = JobTableModel(self, host=services.host)
        self.proxy = JobFilterModel(self)
        self.proxy.setSourceModel(self.model)
        self.background = BackgroundTasks(self)
        self.pool = ExtractionPool(services.settings.concurrent_extractions, self)
        self.intake = ArchiveIntake(services.new_job, self)
        self.tray = TrayNotifier(self)

        self._build_table()
        self._build_central()
        self.actions_ = JobActions(self)
        self._build_toolbar()
        self._build_menus()
        self.status = StatusPanel(
            self.statusBar(),
            describe(services.settings),
            services.probe,
            interval_ms=probe_interval_ms,
        )
        self._connect()
        self._restore_layout()
        self._update_empty_state()

    # -- building ---------------------------------------------------------------

    def _build_table(self) -> None:
        view = QTableView()
        view.setModel(self.proxy)
        view.setSortingEnabled(True)
        view.sortByColumn(Column.STARTED, Qt.SortOrder.DescendingOrder)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setAlternatingRowColors(True)
        view.setWordWrap(False)
        # Archive names keep their extension, ids their end, when a column is narrow.
        view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(26)
        header = view.horizontalHeader()
        header.setSectionResizeMode(Column.PROGRESS, QHeaderView.ResizeMode.Stretch)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self._delegate = ProgressDelegate(view)
        view.setItemDelegateForColumn(Column.PROGRESS, self._delegate)
        view.setItemDelegateForColumn(Column.PIPELINE, self._delegate)
        for column, width in _COLUMN_WIDTHS.items():
            view.setColumnWidth(column, width)
        view.installEventFilter(self)
        self.table = view

    def _build_central(self) -> None:
        self.banner = QLabel("Redis unreachable — retrying")
        self.banner.setStyleSheet(
            "background: #fdecea; color: #8c1d18; padding: 6px; font-weight: bold"
        )
        self.banner.hide()
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("background: #fff4d6; color: #5c4400; padding: 6px")
        self.notice.hide()
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.timeout.connect(self.notice.hide)

        self.empty_state = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_state)
        self.stack.addWidget(self.table)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.notice)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._central = central
        self.drop_highlight = DropHighlight(central)

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Jobs")
        bar.setObjectName("jobs-toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        acts = self.actions_
        bar.addAction(acts.add)
        bar.addSeparator()
        for action in (acts.open_folder, acts.view_results, acts.error_details):
            bar.addAction(action)
        for action in (acts.cancel, acts.retry, acts.rerun):
            bar.addAction(action)

        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.quick_filters = QuickFilterBar()
        bar.addWidget(self.quick_filters)
        self.filter_box = QLineEdit()
        self.filter_box.setPlaceholderText("Filter (Ctrl+F)")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.setMaximumWidth(220)
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(8, 0, 4, 0)
        row.addWidget(self.filter_box)
        bar.addWidget(holder)

    def _build_menus(self) -> None:
        acts = self.actions_
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(acts.add)
        file_menu.addAction(acts.settings)
        file_menu.addSeparator()
        file_menu.addAction(acts.quit)
        job_menu = self.menuBar().addMenu("&Job")
        for action in acts.row_actions():
            job_menu.addAction(action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(acts.find)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(acts.about)

    def _connect(self) -> None:
        self.poller.polled.connect(self._on_poller_polled)
        self.poller.connection_changed.connect(self._on_poller_connection_changed)
        self.intake.job_created.connect(self._on_intake_job_created)
        self.intake.refused.connect(self.show_notice)
        self.pool.job_ended.connect(self._on_pool_job_ended)
        self.pool.batch_finished.connect(self._on_pool_batch_finished)
        self.model.rowsInserted.connect(self._update_empty_state)
        self.model.rowsRemoved.connect(self._update_empty_state)
        self.empty_state.demo_requested.connect(self.actions_.add_demo)
        self.filter_box.textChanged.connect(self.proxy.set_text)
        self.quick_filters.filter_chosen.connect(self.proxy.set_quick_filter)
        self.table.doubleClicked.connect(self.actions_.on_double_click)
        self.table.customContextMenuRequested.connect(self.actions_.show_context_menu)
        self.table.selectionModel().selectionChanged.connect(self.actions_.update)
        self.model.dataChanged.connect(self.actions_.update)

    # -- starting and stopping ----------------------------------------------------

    def start(self, *, poll: bool = True) -> None:
        """Recover interrupted jobs, start polling (on the running loop) and probing."""
        self.background.run(self.services.recover_interrupted, self._on_recovered)
        if poll:
            self.poller.start()
        self.status.start()

    def add_paths(self, paths: Iterable[str | Path]) -> None:
        """Take archives named on the command line or by a second launch."""
        self.intake.add_paths(Path(p).expanduser().absolute() for p in paths)

    def shutdown(self) -> None:
        """Cancel and join every thread the window started. Safe to call twice."""
        if self._shut_down:
            return
        self._shut_down = True
        self.pool.shutdown()
        self.intake.shutdown()
        self.background.shutdown()
        self.status.shutdown()
        self._save_layout()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.pool.busy and not self._confirm_quit():
            event.ignore()
            return
        self.shutdown()
        self.tray.hide()
        event.accept()
        self.closed.emit()

    def _confirm_quit(self) -> bool:
        count = len(self.pool.running_job_ids()) + len(self.pool.queued_job_ids())
        answer = QMessageBox.question(
            self,
            "Quit signpipe?",
            f"{count} extraction(s) are not finished. Quit and cancel them? "
            "Nothing half-made is left in the store.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- drag and drop ------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasText():
            event.acceptProposedAction()
            self.drop_highlight.show_over(self._central)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_highlight.hide()

    def dropEvent(self, event: QDropEvent) -> None:
        """Record the local paths and return; the checks run later, off this thread."""
        self.drop_highlight.hide()
        mime = event.mimeData()
        paths, refused = local_paths(mime.urls())
        if not mime.hasUrls():
            refused.append("Only files can be dropped here, not text.")
        event.acceptProposedAction()
        self._pending_paths.extend(paths)
        if refused:
            self.show_notice(" ".join(refused))
        if paths:
            self.files_dropped.emit(paths)
            QTimer.singleShot(0, self._take_pending_paths)

    def _take_pending_paths(self) -> None:
        paths, self._pending_paths = self._pending_paths, []
        if paths:
            self.intake.add_paths(paths)

    # -- notices ------------------------------------------------------------------

    def show_notice(self, text: str) -> None:
        """A sentence above the table that goes away by itself."""
        self.notice.setText(text)
        self.notice.show()
        self._notice_timer.start(NOTICE_MS)

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self,
            "Add recording archives",
            str(Path.home()),
            "Archives (*.zip *.tar *.tar.gz *.tgz *.tar.bz2 *.tar.xz *.tar.zst);;"
            "All files (*)",
        )
        if files:
            self.add_paths(files)

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About signpipe",
            f"<b>signpipe {__version__}</b><p>Drop drive-recording archives, get "
            "whole recordings in the store and traffic-sign pipeline results.</p>",
        )

    # -- signals from the parts ---------------------------------------------------

    def _on_intake_job_created(self, item: tuple[Any, dict[str, Any]]) -> None:
        job, created = item
        self.poller.follow(job.job_id)
        self.model.upsert_jobs([created])
        self.pool.submit(job)

    def _on_pool_job_ended(self, final: dict[str, Any]) -> None:
        if final.get("job_id") in self.model.job_ids():
            self.model.upsert_jobs([final])
        if final.get("status") == "error":
            self.tray.notify(
                "Extraction failed",
                f"{final.get('archive_name', 'An archive')}: {final.get('error_msg')}",
            )
        if final.get("status") == "done" and final.get("recording_id"):
            self.poller.follow_pipeline(str(final["recording_id"]))

    def _on_pool_batch_finished(self) -> None:
        self.tray.notify("Extractions finished", "Every archive has been handled.")

    def _on_poller_polled(self, result: PollResult) -> None:
        for job_id in result.removed:
            self.model.remove_job(job_id)
        self.model.upsert_jobs(result.jobs)
        self.model.set_pipelines(result.pipelines)
        self.status.set_tasks_waiting(result.tasks_waiting)

    def _on_poller_connection_changed(self, connected: bool) -> None:
        self.banner.setVisible(not connected)
        self.status.set_connected(connected)

    def _on_recovered(self, future: Future[list[str]]) -> None:
        if future.exception() is not None:
            logger.warning("Start-up recovery failed: %s", future.exception())
            return
        recovered = future.result()
        if recovered:
            self.show_notice(
                f"{len(recovered)} extraction(s) were interrupted when signpipe last "
                "closed; select them and choose Retry."
            )

    def _update_empty_state(self) -> None:
        self.stack.setCurrentIndex(1 if self.model.rowCount() else 0)

    # -- keys ---------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table and isinstance(event, QKeyEvent):
            key = event.key()
            if event.type() != QEvent.Type.KeyPress:
                pass
            elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.actions_.open_selected_folder()
                return True
            elif key == Qt.Key.Key_Delete:
                self.actions_.cancel_selected()
                return True
        return super().eventFilter(watched, event)

    # -- layout memory ------------------------------------------------------------

    def _save_layout(self) -> None:
        stored = QSettings()
        stored.setValue("window/geometry", self.saveGeometry())
        stored.setValue("window/state", self.saveState())
        stored.setValue("table/header", self.table.horizontalHeader().saveState())

    def _restore_layout(self) -> None:
        stored = QSettings()
        geometry = stored.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 640)
        state = stored.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        header = stored.value("table/header")
        if isinstance(header, QByteArray):
            self.table.horizontalHeader().restoreState(header)
