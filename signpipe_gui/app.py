"""The desktop application: Redis, the worker, the event loop and the window."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import qasync
import redis.asyncio as aioredis
from PySide6.QtCore import QObject, QtMsgType, Signal, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QMessageBox

from signpipe_gui import __version__
from signpipe_gui.backend.celery_app import PIPELINE_QUEUE
from signpipe_gui.backend.connection import connect, redact, redis_url
from signpipe_gui.backend.settings import Settings, SettingsError
from signpipe_gui.backend.worker_process import LOG_MAX_BYTES
from signpipe_gui.gui_collector import GuiThreadCollector
from signpipe_gui.log_files import add_log_file

logger = logging.getLogger(__name__)
qt_logger = logging.getLogger("qt")

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def run_app(paths: Sequence[str]) -> int:
    """Open the window (or hand ``paths`` to the one already open); the exit code."""
    from signpipe_gui.widgets.single_instance import InstanceServer, hand_over

    app = _application()
    if hand_over(paths):
        logger.info("signpipe is already open; handed it %s archive(s)", len(paths))
        return 0

    try:
        settings = Settings.load()
    except SettingsError as exc:
        logger.error("%s", exc)
        QMessageBox.critical(None, "signpipe", str(exc))
        return 2
    log_file = install_log_file(settings.data_dir / "logs" / "signpipe.log")
    logger.info("The window's log is %s", log_file.baseFilename)
    try:
        client = connect(settings)
        url = redis_url(settings)
    except Exception as exc:
        logger.exception("Redis could not be started or reached")
        QMessageBox.critical(None, "signpipe", f"Redis could not be started: {exc}")
        return 1
    logger.info("signpipe %s on Redis %s", __version__, redact(url))

    collector = GuiThreadCollector(parent=app)
    collector.start()
    loop = qasync.QEventLoop(app)
    loop.set_default_executor(default_executor())
    asyncio.set_event_loop(loop)
    instance = InstanceServer()
    instance.listen()
    try:
        with loop:
            return loop.run_until_complete(
                _run_window(settings, client, url, paths, instance)
            )
    finally:
        instance.close()
        client.close()
        asyncio.set_event_loop(None)
        collector.stop()


async def _run_window(
    settings: Settings, client: object, url: str, paths: Sequence[str], instance: object
) -> int:
    from signpipe_gui.backend.dispatch import OutboxRedriver
    from signpipe_gui.backend.worker_process import WorkerSupervisor
    from signpipe_gui.widgets.job_poller import JobPoller
    from signpipe_gui.widgets.main_window import MainWindow
    from signpipe_gui.widgets.services import WindowServices

    worker_notices = WorkerNotices()
    supervisor = (
        WorkerSupervisor(settings, on_exit=worker_notices.tell)
        if settings.run_worker
        else None
    )
    if supervisor is not None:
        supervisor.start()
    redriver = OutboxRedriver(settings)
    redriver.start()

    poller = JobPoller(
        aioredis.Redis.from_url(
            url,
            socket_timeout=settings.redis_socket_timeout,
            socket_connect_timeout=settings.redis_connect_timeout,
        ),
        queue_name=PIPELINE_QUEUE,
    )
    window = MainWindow(WindowServices(settings, client), poller)  # type: ignore[arg-type]

    def redrive_when_back(connected: bool) -> None:
        if connected:
            redriver.wake()

    poller.connection_changed.connect(redrive_when_back)
    worker_notices.notice.connect(window.show_notice)
    instance.paths_received.connect(lambda p: _take_handed_paths(window, p))  # type: ignore[attr-defined]

    closed = asyncio.Event()
    window.closed.connect(closed.set)
    window.show()
    window.start()
    if paths:
        window.add_paths(paths)
    try:
        await closed.wait()
    finally:
        window.shutdown()
        await poller.stop()
        redriver.stop()
        if supervisor is not None:
            supervisor.stop()
    return 0


class WorkerNotices(QObject):
    """Carries word of a dead worker from the supervisor's thread to the window."""

    notice = Signal(str)

    def tell(self, code: int, log_file: Path) -> None:
        self.notice.emit(
            f"The pipeline worker stopped unexpectedly (exit code {code}) and is "
            f"being restarted; its log is {log_file}."
        )


def default_executor() -> ThreadPoolExecutor:
    """Plain threads for asyncio's blocking helpers (name lookups).

    qasync's own default executor starts ten QThreads per loop; plain threads are
    lighter and are joined when the loop closes.
    """
    return ThreadPoolExecutor(2, thread_name_prefix="signpipe-asyncio")


def _take_handed_paths(window: object, paths: list[str]) -> None:
    window.add_paths(paths)  # type: ignore[attr-defined]
    window.raise_()  # type: ignore[attr-defined]
    window.activateWindow()  # type: ignore[attr-defined]


def _application() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("signpipe")
    app.setOrganizationName("signpipe")
    app.setApplicationVersion(__version__)
    app.setQuitOnLastWindowClosed(False)
    install_qt_logging()
    install_excepthooks()
    return app


def install_log_file(path: Path) -> logging.FileHandler:
    """The window's log also goes to a bounded file, for when it was not started
    from a terminal (the menu entry, a file manager). The window rotates it."""
    return add_log_file(path, max_bytes=LOG_MAX_BYTES)


def install_qt_logging() -> None:
    """Qt's own warnings and errors go into Python logging."""
    qInstallMessageHandler(_qt_message_handler)


def _qt_message_handler(kind: QtMsgType, context: object, message: str) -> None:
    qt_logger.log(_QT_LEVELS.get(kind, logging.WARNING), "%s", message)


def install_excepthooks() -> None:
    """Uncaught exceptions, on any thread, are logged instead of vanishing."""

    def on_exception(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        logger.critical("Uncaught error: %s", value, exc_info=(kind, value, tb))

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        thread = args.thread.name if args.thread else "?"
        logger.critical(
            "Uncaught error on thread %s: %s",
            thread,
            args.exc_value,
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    sys.excepthook = on_exception
    threading.excepthook = on_thread_exception
