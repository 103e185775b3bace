"""A recording's ``status.json``: written whole (temp file + rename), read safely."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

STATUS_FILE_NAME = "status.json"


class StatusFileError(ValueError):
    """status.json is missing or not a JSON object."""


def status_path(recording_dir: Path) -> Path:
    return Path(recording_dir) / STATUS_FILE_NAME


def write_status(recording_dir: Path, status: dict[str, Any]) -> Path:
    """Replace status.json in one rename, so a reader never sees half a file."""
    target = status_path(recording_dir)
    fd, tmp_name = tempfile.mkstemp(
        prefix=".status.", suffix=".json.tmp", dir=str(recording_dir)
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(status, fh, indent=2, sort_keys=False, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def read_status(recording_dir: Path) -> dict[str, Any]:
    """The parsed status.json; StatusFileError when it is missing or malformed."""
    path = status_path(recording_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StatusFileError(f"{path.name} is missing") from exc
    except OSError as exc:
        raise StatusFileError(f"{path.name} cannot be read: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StatusFileError(
            f"{path.name} is not valid JSON (line {exc.lineno})"
        ) from exc
    if not isinstance(data, dict):
        raise StatusFileError(f"{path.name} does not hold a JSON object")
    return data
