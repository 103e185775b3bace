"""``signpipe stop-redis``: shut down this user's embedded Redis.

The embedded redis-server outlives the window on purpose: the CLI, the user's own
workers and the next window find their jobs and queue in it at once. This stops it
(saving its data) for when the user wants no signpipe process left running.
"""

from __future__ import annotations

import argparse
import sys

from signpipe_gui.backend.redis_server import stop_embedded_redis
from signpipe_gui.backend.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command has no options of its own."""


def run(args: argparse.Namespace) -> int:
    """Stop the server if this user's data folder has one running."""
    settings = Settings.load()
    if not settings.uses_embedded_redis:
        sys.stdout.write("signpipe uses the lab's Redis here; there is none to stop.\n")
        return 0
    if stop_embedded_redis(settings.data_dir):
        sys.stdout.write("The embedded Redis has stopped; its data is saved.\n")
    else:
        sys.stdout.write("No embedded Redis was running.\n")
    return 0
