"""The desktop application's own pipeline worker: started, watched, stopped.

The worker runs as ``signpipe worker`` through the same executable as the window
(``python -m signpipe_gui worker`` from source, ``signpipe worker`` when frozen), in
its own process group so that stopping it also stops its pool processes.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .settings import Settings

logger = logging.getLogger(__name__)

# A worker that dies is started again after this delay, doubling up to the maximum
# while it keeps dying young, so a broken setup does not spin.
RESTART_DELAY = 1.0
RESTART_DELAY_MAX = 60.0
_NEW_GROUP_FLAG = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
# The worker's log (in the data folder) starts afresh beyond this size.
LOG_MAX_BYTES = 10 * 1024 * 1024
# A worker that ran this long before dying counts as healthy again.
HEALTHY_AFTER = 60.0


def worker_command(extra: Sequence[str] = ()) -> list[str]:
    """The command line that starts ``signpipe worker`` with this executable."""
    return signpipe_command("worker", *extra)


def signpipe_command(*args: str) -> list[str]:
    """A signpipe command line run by this same executable (the bundle too)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "signpipe_gui", *args]


def worker_env(
    settings: Settings, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment that points a worker at these settings' Redis and store."""
    env = dict(os.environ if base is None else base)
    env["SIGNPIPE_DATA_DIR"] = str(settings.data_dir)
    env["SIGNPIPE_STORE"] = str(settings.store_path)
    # The URL holds the password: it goes through the environment, never argv.
    if settings.redis_url:
        env["SIGNPIPE_REDIS_URL"] = settings.redis_url
    else:
        env.pop("SIGNPIPE_REDIS_URL", None)
    env["SIGNPIPE_VISIBILITY_TIMEOUT"] = str(settings.visibility_timeout)
    env["SIGNPIPE_PIPELINE_TIME_LIMIT"] = str(settings.pipeline_time_limit)
    env["SIGNPIPE_PIPELINE_MAX_ATTEMPTS"] = str(settings.pipeline_max_attempts)
    env["SIGNPIPE_WORKER_CONCURRENCY"] = str(settings.worker_concurrency)
    return env


class WorkerSupervisor:
    """Keeps one ``signpipe worker`` process running until :meth:`stop`.

    Its output goes to ``<data_dir>/logs/worker.log`` unless another file is given.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        extra_args: Sequence[str] = (),
        log_file: Path | None = None,
        stop_grace: float = 10.0,
        on_exit: Callable[[int, Path], None] | None = None,
    ) -> None:
        self.settings = settings
        # Told (on the watching thread) the exit code and the log of a worker that
        # died, so the window can point its user at the log.
        self.on_exit = on_exit
        self.extra_args = list(extra_args)
        self.log_file = log_file or settings.data_dir / "logs" / "worker.log"
        self.stop_grace = stop_grace
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process else None

    @property
    def is_running(self) -> bool:
        with self._lock:
            return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the worker and the thread that restarts it when it dies."""
        self._stopping.clear()
        self._spawn()
        self._watcher = threading.Thread(
            target=self._watch, name="signpipe-worker-watch", daemon=True
        )
        self._watcher.start()

    def stop(self) -> None:
        """Stop the worker: warm shutdown, then cold, then kill; waits until gone."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None:
            _terminate(process, self.stop_grace)
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        logger.info("Pipeline worker stopped")

    def _spawn(self) -> None:
        command = worker_command(self.extra_args)
        _rotate(self.log_file)
        with self.log_file.open("ab") as output:
            process = subprocess.Popen(
                command,
                env=worker_env(self.settings),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # Its own group, so that stopping it reaches its pool processes.
                start_new_session=sys.platform != "win32",
                creationflags=_NEW_GROUP_FLAG,
            )
        with self._lock:
            self._process = process
        logger.info("Pipeline worker started pid=%s", process.pid)

    def _watch(self) -> None:
        delay = RESTART_DELAY
        while not self._stopping.is_set():
            with self._lock:
                process = self._process
            if process is None:
                return
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= HEALTHY_AFTER:
                delay = RESTART_DELAY
            logger.warning(
                "Pipeline worker pid=%s exited code=%s; restarting in %.0f s",
                process.pid,
                code,
                delay,
            )
            _kill_group(process)
            if self.on_exit is not None:
                self.on_exit(code, self.log_file)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, RESTART_DELAY_MAX)
            self.restarts += 1
            self._spawn()


def _rotate(log_file: Path) -> None:
    """Keep the worker's log bounded: one previous file beside the current one."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        if log_file.stat().st_size > LOG_MAX_BYTES:
            os.replace(log_file, log_file.with_suffix(log_file.suffix + ".1"))
    except FileNotFoundError:
        pass


def _terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    """Warm shutdown (running pipelines finish), cold after ``grace``, then kill."""
    # TODO: a run cut short here is sent again as its next attempt, so quitting the
    # app mid-run uses up one of pipeline_max_attempts like a crash would.
    if process.poll() is not None:
        _kill_group(process)
        return
    if sys.platform == "win32":
        process.terminate()
        process.wait(timeout=grace + 5)
        return
    # Warm and cold shutdown go to the main process only: it stops its own pool.
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGQUIT, 5.0)):
        try:
            process.send_signal(sig)
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    _kill_group(process)
    process.wait(timeout=5)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill what is left of the worker's process group (its pool processes)."""
    if sys.platform == "win32":
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
