"""``signpipe`` and its subcommands.

Subcommands are dispatched before anything imports Qt, so ``signpipe worker`` and
``signpipe submit`` start fast and run on machines without a display.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import multiprocessing
import sys
from collections.abc import Sequence

from signpipe_gui import __version__
from signpipe_gui.backend.settings import SettingsError
from signpipe_gui.log_files import LOG_FORMAT

# Each subcommand lives in signpipe_gui/commands/<module>.py and provides
# add_arguments(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "submit": ("submit", "extract recording archives into the store (no window)"),
    "status": ("status", "show one job, or the recent jobs"),
    "worker": ("worker", "run a Celery worker for the pipeline"),
    "run-pipeline": ("run_pipeline", "queue the pipeline again for a stored recording"),
    "demo": ("demo", "write a sample recording archive to try signpipe with"),
    "stop-redis": ("stop_redis", "shut down this user's embedded Redis"),
}

# Commands signpipe runs itself; not listed in the help.
INTERNAL_COMMANDS: dict[str, tuple[str, str]] = {
    "extract-job": ("extract_job", "run one of the window's extraction jobs"),
}
_ALL_COMMANDS = {**SUBCOMMANDS, **INTERNAL_COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: the window's options and the list of subcommands."""
    parser = argparse.ArgumentParser(
        prog="signpipe",
        description="Ingest drive-recording archives and run the traffic-sign "
        "pipeline. "
        "With no command, opens the window (with any ARCHIVE given added to it).",
        epilog="commands:\n"
        + "\n".join(f"  {name:<14}{text}" for name, (_, text) in SUBCOMMANDS.items())
        + "\n\nRun 'signpipe COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"signpipe {__version__}"
    )
    parser.add_argument(
        "archives", nargs="*", metavar="ARCHIVE", help="archives to add"
    )
    return parser


def build_command_parser(command: str) -> argparse.ArgumentParser:
    """The parser of one subcommand; only that command's module is imported."""
    module_name, help_text = _ALL_COMMANDS[command]
    parser = argparse.ArgumentParser(prog=f"signpipe {command}", description=help_text)
    parser.add_argument(
        "--log-level", default="INFO", help="logging level (DEBUG, INFO, WARNING, ...)"
    )
    _command_module(module_name).add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``signpipe`` executable (also of the frozen bundle)."""
    multiprocessing.freeze_support()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _run(argv)
    except SettingsError as exc:
        sys.stderr.write(f"signpipe: {exc}\n")
        return 2


def _run(argv: list[str]) -> int:
    if argv and argv[0] in _ALL_COMMANDS:
        command = argv[0]
        parser = build_command_parser(command)
        # The worker passes options it does not know on to Celery.
        if command == "worker":
            args, extra = parser.parse_known_args(argv[1:])
        else:
            args, extra = parser.parse_args(argv[1:]), []
        args.extra = extra
        _configure_logging(args.log_level)
        return int(_command_module(_ALL_COMMANDS[command][0]).run(args))

    args = build_parser().parse_args(argv)
    return _run_window(args.archives)


def _command_module(module_name: str):  # type: ignore[no-untyped-def]
    return importlib.import_module(f"signpipe_gui.commands.{module_name}")


def _run_window(paths: list[str]) -> int:
    _configure_logging("INFO")
    from signpipe_gui.app import run_app

    return run_app(paths)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format=LOG_FORMAT,
    )
