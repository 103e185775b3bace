"""Member data kept aside while a compressed tar is listed, so it is inflated once.

A gzip stream can only be read from its start, so listing it and extracting it
would inflate it twice. With a spool folder (on the store's file system) each
member's data is written under an opaque number right after that member's entry
has passed validation (name, kind, budgets); once the whole archive has passed,
extraction only links the spooled files to their names in staging. Names from the
archive are never used here, so nothing can escape the spool folder.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from .tar_stream import StreamSource
from .writer import FILE_MODE, StagingWriter, write_all, write_error

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
READ_PIECE = 4 * 1024 * 1024


class SpoolFolder:
    """A private folder of member data named by position in the archive."""

    def __init__(self, parent: Path) -> None:
        self.path = Path(parent) / f".unpacked-{uuid.uuid4().hex}"
        os.mkdir(self.path, 0o700)
        self._fd = os.open(self.path, _DIR_FLAGS)
        self.bytes = 0

    def store(self, index: int, member: str, size: int, source: StreamSource) -> bool:
        """Copy ``size`` bytes of member data; False if the stream ends first."""
        try:
            fd = os.open(str(index), _FILE_FLAGS, FILE_MODE, dir_fd=self._fd)
        except OSError as exc:
            raise write_error(exc, member) from exc
        try:
            remaining = size
            while remaining:
                piece = source.read_some(min(remaining, READ_PIECE))
                if not piece:
                    return False
                write_all(fd, piece, member)
                remaining -= len(piece)
                self.bytes += len(piece)
        finally:
            os.close(fd)
        return True

    def link_into(self, writer: StagingWriter, index: int, member: str) -> None:
        """Give the spooled data its name in staging (never replacing anything)."""
        writer.link_from(self._fd, str(index), member)
        os.unlink(str(index), dir_fd=self._fd)

    def remove(self) -> None:
        """Delete the folder and whatever is left in it."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        shutil.rmtree(self.path, ignore_errors=True)
