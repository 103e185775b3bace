"""``signpipe demo``: write a sample recording archive to try signpipe with."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signpipe_gui.backend.demo import build_demo_archive


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options."""
    parser.add_argument(
        "--output",
        type=Path,
        default=Path.cwd(),
        metavar="DIR",
        help="folder to write the archive into (default: the current folder)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the archive and say where it is."""
    try:
        path = build_demo_archive(args.output)
    except OSError as exc:
        sys.stderr.write(
            f"The demo archive could not be written: {exc.strerror or exc}.\n"
        )
        return 1
    sys.stdout.write(f"Wrote {path}\n")
    sys.stdout.write("Drop it onto the signpipe window to see the whole path work.\n")
    return 0
