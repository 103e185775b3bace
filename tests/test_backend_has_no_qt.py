"""The backend runs headless: importing all of it must not import Qt."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_importing_every_backend_module_does_not_import_pyside6() -> None:
    script = textwrap.dedent(
        """
        import importlib
        import pkgutil
        import sys

        import signpipe_gui.backend as backend

        names = [backend.__name__]
        for module in pkgutil.walk_packages(backend.__path__, backend.__name__ + "."):
            names.append(module.name)
        for name in names:
            importlib.import_module(name)
        qt = sorted(name for name in sys.modules if name.split(".")[0] == "PySide6")
        print(len(names))
        print(",".join(qt))
        """
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    count, qt_modules = result.stdout.splitlines()
    assert int(count) > 10
    assert qt_modules == ""


def test_submit_and_status_commands_do_not_import_pyside6() -> None:
    script = (
        "import sys, signpipe_gui.commands.submit, signpipe_gui.commands.status;"
        "print(any(n.startswith('PySide6') for n in sys.modules))"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.stdout.strip() == "False", result.stderr
