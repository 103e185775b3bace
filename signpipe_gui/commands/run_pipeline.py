"""``signpipe run-pipeline RECORDING_ID``: queue the pipeline again for a recording."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "recording_ids",
        nargs="+",
        metavar="RECORDING_ID",
        help="recordings in the store",
    )


def run(args: argparse.Namespace) -> int:
    from signpipe_gui.backend.dispatch import rerun_pipeline
    from signpipe_gui.backend.settings import Settings

    settings = Settings.load()
    failed = 0
    for recording_id in args.recording_ids:
        result = rerun_pipeline(settings, recording_id)
        if result.queued:
            sys.stdout.write(f"{recording_id}: queued as task {result.task_id}\n")
        else:
            failed += 1
            sys.stderr.write(f"{recording_id}: {result.reason}\n")
    return 1 if failed else 0
