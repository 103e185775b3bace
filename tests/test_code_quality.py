"""The code stays as the project keeps it: ruff clean and formatted, types checked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def _ruff() -> str:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("ruff is not installed beside this Python (pip install '.[test]')")
    return found


def test_ruff_finds_nothing() -> None:
    checked = _run(_ruff(), "check", ".")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_code_is_formatted() -> None:
    formatted = _run(_ruff(), "format", "--check", ".")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


@pytest.mark.slow
def test_mypy_accepts_the_package() -> None:
    typed = _run(sys.executable, "-m", "mypy")
    assert typed.returncode == 0, typed.stdout[-4000:] + typed.stderr[-2000:]
