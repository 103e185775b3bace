"""Edits the settings file the CLI and the worker read too."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from signpipe_gui.backend.settings import (
    Settings,
    SettingsError,
    check_redis_url,
    replace,
)


class SettingsDialog(QDialog):
    """Store folder, Redis, worker, extractions, recording id pattern and detector."""

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        config_file: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("signpipe settings")
        self._settings = settings
        self._config_file = config_file
        self.saved: Settings | None = None

        self.store = QLineEdit(str(settings.store_path))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._on_browse_clicked)
        store_row = QHBoxLayout()
        store_row.addWidget(self.store, 1)
        store_row.addWidget(browse)

        self.redis_url = QLineEdit(settings.redis_url)
        self.redis_url.setPlaceholderText("embedded (leave empty), or redis://…")
        self.redis_url.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.run_worker = QCheckBox("Run a pipeline worker on this workstation")
        self.run_worker.setChecked(settings.run_worker)
        self.concurrent = QSpinBox()
        self.concurrent.setRange(1, 16)
        self.concurrent.setValue(settings.concurrent_extractions)
        self.pattern = QLineEdit(settings.recording_id_pattern)
        self.detector = QLineEdit(settings.detector)
        self.model_file = QLineEdit(settings.model_file)
        self.model_file.setPlaceholderText("ONNX model file (for the onnx detector)")
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b3261e")
        self.problem.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Recordings store", store_row)
        form.addRow("Redis URL", self.redis_url)
        form.addRow("", self.run_worker)
        form.addRow("Concurrent extractions", self.concurrent)
        form.addRow("Recording id pattern", self.pattern)
        form.addRow("Detector", self.detector)
        form.addRow("Model file", self.model_file)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save
            | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Changes take effect the next time signpipe starts."))
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def edited(self) -> Settings:
        """The settings as edited in the dialog (not saved)."""
        return replace(
            self._settings,
            store=Path(self.store.text().strip()).expanduser(),
            redis_url=self.redis_url.text().strip(),
            run_worker=self.run_worker.isChecked(),
            concurrent_extractions=self.concurrent.value(),
            recording_id_pattern=self.pattern.text().strip(),
            detector=self.detector.text().strip() or "builtin",
            model_file=self.model_file.text().strip(),
        )

    def accept(self) -> None:
        problem = self._problem()
        if problem:
            self.problem.setText(problem)
            return
        self.saved = self.edited()
        self.saved.save(self._config_file)
        super().accept()

    def _problem(self) -> str | None:
        try:
            re.compile(self.pattern.text())
        except re.error as exc:
            return f"The recording id pattern is not a valid regular expression: {exc}."
        try:
            check_redis_url(self.redis_url.text().strip())
        except SettingsError as exc:
            return str(exc)
        if not self.store.text().strip():
            return "Choose a folder for the recordings store."
        return None

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Recordings store", self.store.text()
        )
        if folder:
            self.store.setText(folder)
