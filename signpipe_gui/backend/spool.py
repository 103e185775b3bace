"""The job's spool copy: one pass that reads, hashes and copies an archive, then
flushing that copy to disk so the source drive can go and Retry needs no source.

The copy lives on the store's own file system (``<store>/.signpipe/spool/<job_id>/``).
Hashing runs on a second thread while the main one reads and writes, and the kernel
is asked to start writing the copy to disk while reading goes on, so the writing
phase mostly waits for work already under way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ErrorCode, IngestError

CHUNK_SIZE = 4 * 1024 * 1024
SYNC_RANGE = 64 * 1024 * 1024


def open_source(path: Path, name: str) -> BinaryIO:
    """The source archive opened for reading; IngestError in words if it cannot be."""
    try:
        return open(path, "rb", buffering=0)
    except FileNotFoundError as exc:
        raise IngestError(
            ErrorCode.NOT_FOUND,
            f"The archive {name!r} was not found.",
        ) from exc
    except OSError as exc:
        raise IngestError(
            ErrorCode.UNREADABLE,
            f"The archive {name!r} cannot be read: {exc.strerror or exc}.",
        ) from exc


class OverlappedHash:
    """sha256 on a second thread, so hashing overlaps reading and writing the copy.

    hashlib releases the GIL on large updates. Two buffers take turns, so a chunk is
    never read into while it is still being hashed.
    """

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._buffers = (bytearray(CHUNK_SIZE), bytearray(CHUNK_SIZE))
        self._hashing: list[Future[None] | None] = [None, None]
        self._turn = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sha256")

    def __enter__(self) -> OverlappedHash:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True)

    def free_buffer(self) -> bytearray:
        """The buffer to read the next chunk into, once its last hashing is done."""
        slot = self._turn % 2
        self._wait(slot)
        return self._buffers[slot]

    def update(self, chunk: memoryview) -> None:
        """Hash ``chunk`` (a view of the buffer from free_buffer) in the background."""
        slot = self._turn % 2
        self._hashing[slot] = self._pool.submit(self._digest.update, chunk)
        self._turn += 1

    def hexdigest(self) -> str:
        self._wait(0)
        self._wait(1)
        return self._digest.hexdigest()

    def _wait(self, slot: int) -> None:
        pending = self._hashing[slot]
        if pending is not None:
            pending.result()
            self._hashing[slot] = None


def disk_error(exc: OSError, doing: str) -> IngestError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return IngestError(
            ErrorCode.NO_SPACE, f"The store's disk is full; stopped while {doing}."
        )
    return IngestError(
        ErrorCode.WRITE_FAILED,
        f"The store could not be written while {doing}: {exc.strerror or exc}.",
    )


def read_chunk(source: Any, buffer: bytearray, name: str) -> int:
    try:
        return int(source.readinto(buffer) or 0)
    except OSError as exc:
        raise IngestError(
            ErrorCode.UNREADABLE,
            f"The archive {name!r} could not be read to the end: "
            f"{exc.strerror or exc}.",
        ) from exc


def open_spool(path: Path) -> Any:
    try:
        return open(path, "wb", buffering=0)
    except OSError as exc:
        raise disk_error(exc, "copying the archive into the store") from exc


def write_chunk(target: Any, chunk: memoryview) -> None:
    try:
        written = 0
        while written < len(chunk):
            written += target.write(chunk[written:])
    except OSError as exc:
        raise disk_error(exc, "copying the archive into the store") from exc


def spool_file_name(name: str) -> str:
    """The spool file's name: the archive's own name, never a path."""
    cleaned = name.replace("/", "_").replace("\\", "_").strip(". ")
    return cleaned or "archive"


def _load_sync_file_range() -> Any:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    try:
        func = ctypes.CDLL(libc_name, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


# SYNC_FILE_RANGE_WAIT_BEFORE | WRITE | WAIT_AFTER: the range is on disk on return.
_SYNC_WAIT_WRITE_WAIT = 1 | 2 | 4
_SYNC_WRITE = 2
_sync_file_range = _load_sync_file_range()


def start_writeback(fd: int, start: int, end: int) -> None:
    """Ask the kernel to begin writing a range to disk, without waiting for it."""
    if _sync_file_range is not None:
        _sync_file_range(fd, start, end - start, _SYNC_WRITE)


def sync_range(fd: int, offset: int, length: int) -> None:
    """Write one range of a file to disk; without sync_file_range, the whole file."""
    if _sync_file_range is not None:
        if _sync_file_range(fd, offset, length, _SYNC_WAIT_WRITE_WAIT) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL, errno.ESPIPE):
            raise OSError(err, os.strerror(err))
    os.fdatasync(fd)
