"""``signpipe worker``: a Celery worker for the pipeline, plus the outbox re-driver.

Options this command does not know are passed on to Celery's own worker command, so
``signpipe worker --hostname lab-a@%h --max-tasks-per-child 10`` works as expected.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

logger = logging.getLogger(__name__)

# Skipping these start-up exchanges brings a worker up in ~0.3 s instead of ~1.4 s;
# signpipe needs none of them (presence is asked with ping, not gossip).
FAST_START_FLAGS = ("--without-gossip", "--without-mingle", "--without-heartbeat")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--concurrency",
        type=int,
        default=None,
        help="pipelines run at once (default: the worker_concurrency setting, "
        "or the number of CPUs)",
    )
    parser.add_argument(
        "-P",
        "--pool",
        default=None,
        help="Celery pool: prefork (default), threads or solo (default on Windows)",
    )
    parser.add_argument(
        "--with-gossip",
        action="store_true",
        help="take part in Celery's gossip, mingle and heartbeat (slower start)",
    )
    parser.add_argument(
        "--no-outbox",
        action="store_true",
        help="do not re-send recordings whose pipeline could not be queued",
    )


def worker_argv(
    *,
    concurrency: int,
    pool: str,
    log_level: str,
    extra: list[str],
    fast_start: bool = True,
) -> list[str]:
    """The argument list for Celery's worker command."""
    argv = [
        "worker",
        f"--loglevel={log_level.upper()}",
        f"--concurrency={concurrency}",
        f"--pool={pool}",
    ]
    if fast_start:
        argv += FAST_START_FLAGS
    if not any(a in ("-n", "--hostname") or a.startswith("--hostname=") for a in extra):
        # Unique per process, so two workers on one machine are told apart.
        argv.append(f"--hostname=signpipe-{os.getpid()}@%h")
    return argv + extra


def default_pool(concurrency: int) -> str:
    """prefork where it works; on Windows solo for one pipeline, threads for more."""
    # TODO: the solo and threads pools enforce no time limits, so on Windows
    # pipeline_time_limit does not stop a run that hangs.
    if sys.platform == "win32":
        return "solo" if concurrency <= 1 else "threads"
    return "prefork"


def run(args: argparse.Namespace) -> int:
    from signpipe_gui.backend.celery_app import create_app
    from signpipe_gui.backend.connection import describe
    from signpipe_gui.backend.dispatch import OutboxRedriver
    from signpipe_gui.backend.settings import Settings

    settings = Settings.load()
    concurrency = args.concurrency or settings.worker_concurrency or os.cpu_count() or 1
    pool = args.pool or default_pool(concurrency)
    app = create_app(settings)
    logger.info(
        "Starting pipeline worker: redis=%s store=%s concurrency=%s pool=%s",
        describe(settings),
        settings.store_path,
        concurrency,
        pool,
    )

    redriver = None if args.no_outbox else OutboxRedriver(settings)
    if redriver is not None:
        redriver.start()
    try:
        app.worker_main(
            worker_argv(
                concurrency=concurrency,
                pool=pool,
                log_level=args.log_level,
                extra=list(args.extra),
                fast_start=not args.with_gossip,
            )
        )
    finally:
        if redriver is not None:
            redriver.stop()
    return 0
