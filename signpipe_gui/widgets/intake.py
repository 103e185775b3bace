"""Turns dropped paths into created jobs, off the GUI thread.

``dropEvent`` only hands the paths over. Here a worker thread checks each one (it
exists, it is a file, its first bytes are an archive's) and creates the job, which
publishes its ``queued`` object, so a row appears at once. Anything else gets a
sentence for the window, not a row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QUrl, Signal

from signpipe_gui.backend.archive.formats import foreign_format, sniff_format

logger = logging.getLogger(__name__)

HEAD_BYTES = 4096


def local_paths(urls: Iterable[QUrl]) -> tuple[list[Path], list[str]]:
    """Split dropped URLs into local file paths and sentences for the others.

    A remote or empty URL is never turned into a path: ``sftp://host/a.zip`` has a
    path part that would name some unrelated local file.
    """
    paths: list[Path] = []
    refused: list[str] = []
    for url in urls:
        if not url.isValid() or url.isEmpty():
            refused.append("An empty link was dropped; drop archive files instead.")
        elif not url.isLocalFile() or not url.toLocalFile():
            shown = url.toDisplayString()  # never shows a password
            refused.append(
                f"{shown} is not a local file; copy it to this computer or "
                "mount the share first."
            )
        else:
            paths.append(Path(url.toLocalFile()))
    return paths, refused


def archive_problem(path: Path) -> str | None:
    """A sentence saying why ``path`` is not an archive to take, or None."""
    try:
        if not path.exists():
            return f"{path.name} was not found."
        if path.is_dir():
            return f"{path.name} is a folder; drop the recording's archive instead."
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        return f"{path.name} cannot be read: {exc.strerror or exc}."
    foreign = foreign_format(head)
    if foreign is not None:
        return f"{path.name} is a {foreign} archive; signpipe reads zip and tar."
    if sniff_format(head) is None:
        return (
            f"{path.name} is not an archive signpipe can read (zip, tar, tar.gz, "
            "tar.bz2, tar.xz or tar.zst)."
        )
    return None


class ArchiveIntake(QObject):
    """Checks paths and creates their jobs on one worker thread."""

    job_created = Signal(object)  # (job, its queued object); not started yet
    refused = Signal(str)  # a sentence for the user

    def __init__(
        self, create_job: Callable[[Path], Any], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._create_job = create_job
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="signpipe-intake")

    def add_paths(self, paths: Iterable[Path]) -> Future[None]:
        """Check and create jobs for ``paths`` in the background."""
        return self._executor.submit(self._take_paths, list(paths))

    def add_call(self, make_job: Callable[[], Any], failure: str) -> Future[None]:
        """Create a job with ``make_job`` in the background (Retry uses this)."""
        return self._executor.submit(self._take_call, make_job, failure)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _take_paths(self, paths: list[Path]) -> None:
        for path in paths:
            problem = archive_problem(path)
            if problem is not None:
                logger.info("Archive refused: %s", problem)
                self.refused.emit(problem)
                continue
            self._take_call(
                partial(self._create_job, path), f"{path.name} could not be added."
            )

    def _take_call(self, make_job: Callable[[], Any], failure: str) -> None:
        try:
            job = make_job()
            created = job.create()
        except Exception as exc:
            logger.exception("Could not create a job")
            self.refused.emit(f"{failure} {getattr(exc, 'message', '')}".strip())
            return
        self.job_created.emit((job, created))
