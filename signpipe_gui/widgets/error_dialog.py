"""A failed job's sentence, its details for the curious, and a copy button."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

_DETAIL_FIELDS = (
    "job_id",
    "archive_name",
    "archive_path",
    "recording_id",
    "host",
    "status",
    "phase",
    "progress_percent",
    "extracted_files",
    "total_files",
    "retry_of",
)


def details_text(job: dict[str, Any]) -> str:
    """The details as plain text: the structured error, then the job's key fields."""
    lines = [str(job.get("error_msg") or "Failed."), ""]
    details = job.get("error_details") or {}
    if details:
        lines.append("Error details:")
        lines.append(json.dumps(details, indent=2, sort_keys=True, default=str))
        lines.append("")
    lines.append("Job:")
    lines.extend(
        f"  {name}: {job[name]}" for name in _DETAIL_FIELDS if job.get(name) is not None
    )
    return "\n".join(lines)


class ErrorDialog(QDialog):
    """Shows why a job failed."""

    def __init__(self, job: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Error details · {job.get('archive_name') or 'job'}")
        self.resize(560, 360)
        self.text = details_text(job)

        self.sentence = QLabel(str(job.get("error_msg") or "Failed."))
        self.sentence.setWordWrap(True)
        font = QFont(self.sentence.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.sentence.setFont(font)

        self.details = QPlainTextEdit(self.text)
        self.details.setReadOnly(True)
        self.details.setFont(QFont("monospace"))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy details")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self._on_copy_clicked)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.sentence)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)

    def _on_copy_clicked(self) -> None:
        QGuiApplication.clipboard().setText(self.text)
        self.copy_button.setText("Copied")
