"""The one place that finds files under ``resources/``.

From a source checkout the folder is at the repository's top level; in a PyInstaller
bundle it is collected as ``resources/`` under the bundle's folder (``sys._MEIPASS``).
"""

from __future__ import annotations

import sys
from pathlib import Path


def resources_root() -> Path:
    """The ``resources`` folder of this checkout or frozen bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def resource_path(*parts: str) -> Path:
    """The path of a file or folder under ``resources``; FileNotFoundError if absent."""
    path = resources_root().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"signpipe resource {'/'.join(parts)} is missing")
    return path
