"""What can be done to jobs: from the toolbar, the context menu and the keyboard."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject, QPoint, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMenu

from signpipe_gui.backend.errors import ARCHIVE_FAULTS

from . import job_text
from .error_dialog import ErrorDialog
from .job_table_model import JobRole
from .results_viewer import ResultsViewer
from .settings_dialog import SettingsDialog

if TYPE_CHECKING:
    from .main_window import MainWindow

logger = logging.getLogger(__name__)

Job = dict[str, Any]


class JobActions(QObject):
    """The window's actions, enabled by what is selected."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.viewers: dict[str, ResultsViewer] = {}
        self.dialogs: list[ErrorDialog] = []

        self.add = self._action("Add archives…", window.choose_files, "Ctrl+O")
        self.open_folder = self._action(
            "Open recording folder", self.open_selected_folder
        )
        self.open_folder.setShortcut(QKeySequence(Qt.Key.Key_Return))
        self.view_results = self._action("View results", self.view_selected_results)
        self.error_details = self._action("Show error details", self.show_error_details)
        self.cancel = self._action("Cancel", self.cancel_selected)
        self.cancel.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.retry = self._action("Retry", self.retry_selected)
        self.rerun = self._action("Run pipeline again", self.rerun_selected)
        self.copy_id = self._action("Copy job id", self.copy_selected_id)
        self.remove = self._action("Remove from list", self.remove_selected)
        self.settings = self._action("Settings…", self.edit_settings)
        self.about = self._action("About signpipe", window.show_about)
        self.quit = self._action("Quit", window.close, "Ctrl+Q")
        self.find = self._action("Filter jobs", self._focus_filter, "Ctrl+F")
        for action in (self.open_folder, self.cancel):
            # Enter and Del are handled by the table itself; the shortcut is shown
            # in the menus but must not fire a second time from the window.
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        for action in (self.add, self.quit, self.find):
            window.addAction(action)
        self.update()

    def _action(self, text: str, slot: Any, shortcut: str | None = None) -> QAction:
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        return action

    def row_actions(self) -> list[QAction]:
        return [
            self.open_folder,
            self.view_results,
            self.error_details,
            self.cancel,
            self.retry,
            self.rerun,
            self.copy_id,
            self.remove,
        ]

    # -- selection ----------------------------------------------------------------

    def selected_jobs(self) -> list[Job]:
        rows = self.window.table.selectionModel().selectedRows()
        return [row.data(JobRole) for row in rows if row.data(JobRole)]

    def update(self, *_: Any) -> None:
        """Enable the actions that apply to the selected jobs."""
        jobs = self.selected_jobs()
        pool = self.window.pool
        done = [j for j in jobs if j.get("status") == "done" and j.get("recording_id")]
        self.open_folder.setEnabled(bool(done))
        self.view_results.setEnabled(bool(done))
        self.rerun.setEnabled(bool(done))
        self.error_details.setEnabled(any(j.get("status") == "error" for j in jobs))
        self.cancel.setEnabled(
            any(
                pool.owns(str(j.get("job_id"))) and not job_text.is_terminal(j)
                for j in jobs
            )
        )
        self.retry.setEnabled(any(_can_retry(j) for j in jobs))
        self.copy_id.setEnabled(bool(jobs))
        self.remove.setEnabled(any(job_text.is_terminal(j) for j in jobs))

    def show_context_menu(self, position: QPoint) -> None:
        self.update()
        menu = QMenu(self.window)
        for action in self.row_actions():
            menu.addAction(action)
        menu.exec(self.window.table.viewport().mapToGlobal(position))

    def on_double_click(self, index: QModelIndex) -> None:
        job = index.data(JobRole) or {}
        if job.get("status") == "done":
            self.open_folder_of(job)
        elif job.get("status") == "error":
            self.show_error_of(job)

    # -- the actions --------------------------------------------------------------

    def open_selected_folder(self) -> None:
        for job in self.selected_jobs():
            if job.get("status") == "done":
                self.open_folder_of(job)

    def open_folder_of(self, job: Job) -> None:
        folder = self.window.services.recording_dir(str(job.get("recording_id")))
        if not folder.is_dir():
            self.window.show_notice(
                f"The folder of {job.get('recording_id')} is not in this "
                "workstation's store."
            )
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            # No file manager is set up on this desktop: say where the folder is.
            self.window.show_notice(
                f"No file manager could open the folder; the recording is in {folder}"
            )

    def view_selected_results(self) -> None:
        for job in self.selected_jobs():
            if job.get("recording_id"):
                self.show_results_of(str(job["recording_id"]))

    def show_results_of(self, recording_id: str) -> ResultsViewer:
        viewer = self.viewers.get(recording_id)
        if viewer is not None and not viewer.isVisible():
            # A closed viewer stopped following status.json: a new one reads it anew.
            self.viewers.pop(recording_id)
            viewer.deleteLater()
            viewer = None
        if viewer is None:
            viewer = ResultsViewer(
                self.window.services.recording_dir(recording_id),
                on_rerun=lambda: self.rerun_recording(recording_id),
            )
            viewer.destroyed.connect(lambda: self.viewers.pop(recording_id, None))
            self.viewers[recording_id] = viewer
        viewer.show()
        viewer.raise_()
        return viewer

    def show_error_details(self) -> None:
        for job in self.selected_jobs():
            if job.get("status") == "error":
                self.show_error_of(job)
                return

    def show_error_of(self, job: Job) -> ErrorDialog:
        dialog = ErrorDialog(job, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def cancel_selected(self) -> None:
        for job in self.selected_jobs():
            if self.window.pool.cancel(str(job.get("job_id"))):
                logger.info("Cancel requested for job %s", job.get("job_id"))

    def retry_selected(self) -> None:
        for job in self.selected_jobs():
            if not _can_retry(job):
                continue
            job_id = str(job["job_id"])
            self.window.intake.add_call(
                partial(self.window.services.retry, job_id),
                f"{job.get('archive_name', 'The archive')} cannot be retried.",
            )

    def rerun_selected(self) -> None:
        for job in self.selected_jobs():
            if job.get("status") == "done" and job.get("recording_id"):
                self.rerun_recording(str(job["recording_id"]))

    def rerun_recording(self, recording_id: str) -> None:
        def on_done(future: Future[Any]) -> None:
            if future.exception() is not None:
                logger.warning(
                    "Pipeline of %s not re-queued: %s", recording_id, future.exception()
                )
                self.window.show_notice(
                    f"The pipeline of {recording_id} could not be queued again."
                )
                return
            result = future.result()
            self.window.poller.follow_pipeline(recording_id)
            if getattr(result, "queued", True):
                self.window.show_notice(f"Pipeline queued again for {recording_id}.")
            else:
                reason = getattr(result, "reason", None) or "the broker is unreachable"
                self.window.show_notice(
                    f"The pipeline of {recording_id} will be queued when it can: "
                    f"{reason}."
                )

        services = self.window.services
        self.window.background.run(
            lambda: services.rerun_pipeline(recording_id), on_done
        )

    def copy_selected_id(self) -> None:
        ids = [str(job.get("job_id")) for job in self.selected_jobs()]
        if ids:
            QGuiApplication.clipboard().setText("\n".join(ids))

    def remove_selected(self) -> None:
        for job in self.selected_jobs():
            if not job_text.is_terminal(job):
                continue
            job_id = str(job["job_id"])
            self.window.poller.forget(job_id)
            self.window.model.remove_job(job_id)
            self.window.background.run(partial(self.window.services.remove_job, job_id))

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self.window.services.settings, self.window)
        if dialog.exec() and dialog.saved is not None:
            self.window.show_notice(
                "Settings saved; they take effect the next time signpipe starts."
            )

    def add_demo(self) -> None:
        def on_done(future: Future[Any]) -> None:
            if future.exception() is not None:
                logger.warning("Sample recording not built: %s", future.exception())
                self.window.show_notice("The sample recording could not be built.")
                return
            self.window.notice.hide()  # "Building…" is over: its row says the rest
            self.window.add_paths([future.result()])

        self.window.show_notice("Building the sample recording…")
        self.window.background.run(self.window.services.build_demo, on_done)

    def _focus_filter(self) -> None:
        self.window.filter_box.setFocus()
        self.window.filter_box.selectAll()


def _can_retry(job: dict[str, Any]) -> bool:
    """A failed job whose archive is sound: the fault was elsewhere and may be gone."""
    code = (job.get("error_details") or {}).get("code")
    return job.get("status") == "error" and code not in ARCHIVE_FAULTS
