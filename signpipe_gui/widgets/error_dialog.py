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
    """The details as plain text: the sentence, the structured error, the job."""
    return f"{job.get('error_msg') or 'Failed.'}\n\n{details_body(job)}"


def details_body(job: dict[str, Any]) -> str:
    """The structured error, then the job's key fields, one ``name: value`` a line."""
    lines = []
    details = job.get("error_details") or {}
    if details:
        lines.append("Error details:")
        lines.extend(
            f"  {name}: {_value_text(value)}" for name, value in sorted(details.items())
        )
        lines.append("")
    lines.append("Job:")
    lines.extend(
        f"  {name}: {job[name]}" for name in _DETAIL_FIELDS if job.get(name) is not None
    )
    return "\n".join(lines)


def _value_text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


class ErrorDialog(QDialog):
    """Shows why a job failed."""

    def __init__(self, job: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Error details · {job.get('archive_name') or 'job'}")
        self.resize(680, 400)
        self.text = details_text(job)

        self.sentence = QLabel(str(job.get("error_msg") or "Failed."))
        self.sentence.setWordWrap(True)
        font = QFont(self.sentence.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.sentence.setFont(font)

        # The sentence is already above; the box holds what is not.
        self.details = QPlainTextEdit(details_body(job))
        self.details.setReadOnly(True)
        self.details.setFont(QFont("monospace"))
        # Paths stay whole on their line; a wrapped path reads as two.
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)

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
