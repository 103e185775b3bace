"""Writing extracted members, only inside the staging folder, counting every byte."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ..errors import ErrorCode, IngestError
from .listing import Listing

FILE_MODE = 0o644
DIR_MODE = 0o755
MAX_CACHED_FOLDERS = 1000

# O_NOFOLLOW on every component and O_EXCL on every file: even if a name slipped
# past validation, nothing is followed out of staging and nothing is overwritten.
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def write_error(exc: OSError, member: str) -> IngestError:
    """The IngestError for a failed write: a full disk gets its own code."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return IngestError(
            ErrorCode.NO_SPACE,
            f"The store's disk is full; extraction stopped while writing {member!r}.",
            member=member,
        )
    return IngestError(
        ErrorCode.WRITE_FAILED,
        f"Could not write {member!r} into the store: {exc.strerror or exc}.",
        member=member,
    )


def size_mismatch(member: str, declared: int) -> IngestError:
    """The IngestError for a member whose data is longer or shorter than declared."""
    return IngestError(
        ErrorCode.SIZE_MISMATCH,
        f"The archive member {member!r} does not hold the {declared} bytes its "
        "header declares; the archive is damaged or forged.",
        member=member,
        limit=declared,
    )


def _safe_parts(name: str) -> list[str]:
    parts = name.split("/")
    if any(p in ("", ".", "..") or "\x00" in p for p in parts):
        raise IngestError(
            ErrorCode.PATH_ESCAPE,
            f"The archive member {name!r} would be written outside the recording.",
            member=name,
        )
    return parts


class StagingWriter:
    """Creates the listing's folders and files under ``staging`` and nowhere else."""

    def __init__(self, staging: Path, listing: Listing) -> None:
        self.listing = listing
        self._root_fd = os.open(staging, _DIR_FLAGS)
        self._folders: dict[str, int] = {}

    def create_folders(self) -> None:
        """Create the recording folder and every listed folder, parents first."""
        for member in self.listing.members:
            if member.is_dir:
                self._make_folder(member.name)

    def _make_folder(self, name: str) -> None:
        parent_fd, leaf, owned = self._parent(name)
        try:
            os.mkdir(leaf, DIR_MODE, dir_fd=parent_fd)
        except OSError as exc:
            raise write_error(exc, name) from exc
        finally:
            if owned:
                os.close(parent_fd)
        if len(self._folders) < MAX_CACHED_FOLDERS:
            self._folders[name] = self._open_chain(name.split("/"))

    def _parent(self, name: str) -> tuple[int, str, bool]:
        """The parent folder handle, the leaf name, and whether to close the handle."""
        parts = _safe_parts(name)
        parent = "/".join(parts[:-1])
        if not parent:
            return self._root_fd, parts[-1], False
        cached = self._folders.get(parent)
        if cached is not None:
            return cached, parts[-1], False
        return self._open_chain(parts[:-1]), parts[-1], True

    def _open_chain(self, parts: list[str]) -> int:
        fd = self._root_fd
        for part in parts:
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise write_error(exc, "/".join(parts)) from exc
            finally:
                if fd != self._root_fd:
                    os.close(fd)
            fd = next_fd
        return fd

    def open_file(self, name: str) -> int:
        """A new file for writing; fails if anything already exists at that name."""
        parent_fd, leaf, owned = self._parent(name)
        try:
            return os.open(leaf, _FILE_FLAGS, FILE_MODE, dir_fd=parent_fd)
        except OSError as exc:
            raise write_error(exc, name) from exc
        finally:
            if owned:
                os.close(parent_fd)

    def link_from(self, source_dir_fd: int, source_name: str, name: str) -> None:
        """Hard-link a finished file into place; fails if anything is at ``name``."""
        parent_fd, leaf, owned = self._parent(name)
        try:
            os.link(
                source_name,
                leaf,
                src_dir_fd=source_dir_fd,
                dst_dir_fd=parent_fd,
                follow_symlinks=False,
            )
        except OSError as exc:
            raise write_error(exc, name) from exc
        finally:
            if owned:
                os.close(parent_fd)

    def close(self) -> None:
        """Close every folder handle."""
        for fd in self._folders.values():
            os.close(fd)
        self._folders.clear()
        os.close(self._root_fd)


def write_all(fd: int, data: bytes | bytearray | memoryview, member: str) -> None:
    """Write all of ``data``, turning OS errors into IngestErrors."""
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as exc:
        raise write_error(exc, member) from exc
