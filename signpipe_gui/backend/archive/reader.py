"""The format-independent half of reading an archive: open, list, extract, close."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from ..errors import ErrorCode, IngestError, JobCancelled
from .formats import ArchiveFormat
from .limits import ArchiveLimits
from .listing import Listing, RawEntry, build_listing
from .writer import StagingWriter

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]

CHUNK = 1024 * 1024


class ArchiveReader:
    """An open archive; list it (validating everything), then extract the listing."""

    format: ArchiveFormat

    def __init__(
        self, path: Path, limits: ArchiveLimits, *, archive_name: str | None
    ) -> None:
        self.path = Path(path)
        self.limits = limits
        self.archive_name = archive_name or self.path.name
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            self.size = os.fstat(self._fd).st_size
        except OSError as exc:
            raise IngestError(
                ErrorCode.UNREADABLE,
                f"The archive {self.archive_name!r} cannot be read: "
                f"{exc.strerror or exc}.",
            ) from exc
        self._listing: Listing | None = None
        self._listing_progress: ProgressCallback | None = None
        self._sources: dict[str, Any] = {}

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def listing(self, on_progress: ProgressCallback | None = None) -> Listing:
        """List and validate every member. Raises IngestError.

        Writes nothing, except into the spool folder when one was given (see
        open_archive). ``on_progress(members_seen, archive_bytes_read)`` is called
        while a compressed tar is read, which can take as long as extracting it.
        """
        self._listing_progress = on_progress
        if self._listing is None:
            entries = self._entries()
            try:
                self._listing, self._sources = build_listing(
                    entries,
                    self.limits,
                    archive_name=self.archive_name,
                    archive_size=self.size,
                )
            finally:
                entries.close()  # stops a decompressing thread at once on errors
            logger.info(
                "Archive %s listed: format=%s recording=%s files=%d bytes=%d",
                self.archive_name,
                self.format,
                self._listing.recording_id,
                self._listing.total_files,
                self._listing.total_bytes,
            )
        return self._listing

    def extract(
        self,
        listing: Listing,
        staging: Path,
        *,
        on_progress: ProgressCallback,
        cancel: threading.Event,
    ) -> None:
        """Write ``staging/<recording_id>/...``; raises IngestError or JobCancelled."""
        if listing is not self.listing():
            raise ValueError("extract() needs the listing this reader produced")
        if cancel.is_set():
            raise JobCancelled()

        writer = StagingWriter(Path(staging), listing)
        try:
            writer.create_folders()
            self._extract_files(writer, on_progress, cancel)
        finally:
            writer.close()
        on_progress(listing.total_files, listing.total_bytes)

    def close(self) -> None:
        """Release the archive file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # Format readers fill these in.

    def _entries(self) -> Generator[RawEntry, None, None]:
        raise NotImplementedError

    def _extract_files(
        self,
        writer: StagingWriter,
        on_progress: ProgressCallback,
        cancel: threading.Event,
    ) -> None:
        raise NotImplementedError

    def _damaged(
        self, code: ErrorCode, what: str, member: str | None = None
    ) -> IngestError:
        """An IngestError for a broken archive, naming the archive (and member)."""
        where = f" at {member!r}" if member else ""
        return IngestError(
            code, f"The archive {self.archive_name!r} {what}{where}.", member=member
        )
