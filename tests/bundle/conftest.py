"""Bundle tests build the PyInstaller bundle, which takes minutes: opt in to run them.

They run when the environment has ``SIGNPIPE_RUN_BUNDLE=1`` (``.ci/run`` sets it, and
a release is always built and checked this way); otherwise they are skipped.
``SIGNPIPE_BUNDLE_EXECUTABLE=dist/signpipe/signpipe`` checks a bundle built already.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_BUNDLE = os.environ.get("SIGNPIPE_RUN_BUNDLE") == "1"
# A bundle built already (its executable), to check it instead of building one.
PREBUILT = os.environ.get("SIGNPIPE_BUNDLE_EXECUTABLE", "")
SKIP_REASON = (
    "builds the PyInstaller bundle (minutes): set SIGNPIPE_RUN_BUNDLE=1 to run it"
)


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Mark every test here ``bundle``, and skip them unless asked for."""
    here = Path(__file__).parent
    for item in items:
        if here not in Path(str(item.path)).parents:
            continue
        item.add_marker(pytest.mark.bundle)
        if not RUN_BUNDLE:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle's executable, built once per session with scripts/build_bundle.sh."""
    if PREBUILT:
        return Path(PREBUILT).resolve()

    dist = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PYTHON": sys.executable}

    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_bundle.sh"), str(dist)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, f"bundle build failed:\n{built.stderr[-6000:]}"

    executable = dist / "signpipe" / "signpipe"
    assert executable.is_file(), f"no executable at {executable}"
    return executable
