"""Fixtures for the pipeline queue: real recordings, real `signpipe worker` processes.

Workers run as subprocesses (``python -m signpipe_gui worker``), each in its own
process group, so a test can SIGKILL one mid-pipeline and teardown leaves none behind.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from signpipe_gui.backend import celery_app
from signpipe_gui.backend.settings import Settings

from .helpers import VISIBILITY_TIMEOUT, WorkerProcess, worker_env


@pytest.fixture
def queue_settings(settings: Settings) -> Settings:
    """The test settings with a short visibility timeout (so short lock expiry)."""
    settings.visibility_timeout = VISIBILITY_TIMEOUT
    settings.pipeline_max_attempts = 3
    return settings


@pytest.fixture
def start_worker(
    tmp_path: Path,
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``signpipe worker`` subprocesses; teardown kills every one of them."""
    started: list[WorkerProcess] = []

    def start(settings: Settings, *extra: str, wait: bool = True) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        env = worker_env(settings, tmp_path)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "signpipe_gui",
                    "worker",
                    "--concurrency",
                    "1",
                    *extra,
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = WorkerProcess(process, log, env)
        started.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    yield start

    # No clean shutdown needed: Redis is flushed before the next test.
    for worker in started:
        worker.kill()


@pytest.fixture(autouse=True)
def _fresh_apps() -> Iterator[None]:
    """Each test dispatches through apps made for its own settings."""
    yield
    celery_app.forget_apps()
