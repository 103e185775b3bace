"""Tar archives, plain or compressed with gzip, bzip2, xz or zstd."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ErrorCode, IngestError, JobCancelled
from .formats import ArchiveFormat
from .limits import TOTAL_RATIO_FLOOR, ArchiveLimits
from .listing import EntryKind, Member, RawEntry
from .names import decode_names
from .parallel import ProgressTick, run_members
from .reader import CHUNK, ArchiveReader, ProgressCallback
from .spool import SpoolFolder
from .tar_headers import TarHeader, walk_headers
from .tar_stream import StreamSource, open_source
from .writer import StagingWriter, size_mismatch, write_all, write_error

COPY_CHUNK = 2 * 1024 * 1024
# errno values meaning "copy_file_range cannot do this here, copy by hand".
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP}


@dataclass(frozen=True)
class TarSource:
    """Where a member's data starts in the (uncompressed) tar."""

    index: int
    data_offset: int
    size: int


class TarReader(ArchiveReader):
    """Reads tar archives; plain ones with two workers, compressed ones in one pass."""

    workers = 2

    def __init__(
        self,
        path: Path,
        limits: ArchiveLimits,
        *,
        archive_name: str | None,
        fmt: ArchiveFormat,
        spool_parent: Path | None = None,
    ) -> None:
        super().__init__(path, limits, archive_name=archive_name)
        self.format = fmt
        self._spool_parent = spool_parent if fmt is not ArchiveFormat.TAR else None
        self._spool: SpoolFolder | None = None
        self._members_seen = 0

    @property
    def spooled_bytes(self) -> int:
        """Member bytes already written aside while listing (0 without a spool)."""
        return self._spool.bytes if self._spool else 0

    def close(self) -> None:
        """Release the archive and remove the spool folder, if any."""
        if self._spool is not None:
            self._spool.remove()
            self._spool = None
        super().close()

    def _entries(self) -> Generator[RawEntry, None, None]:
        source = open_source(
            self._fd, self.size, self.format, self._stream_damaged, self._guard
        )
        spool = self._open_spool()
        try:
            for header in walk_headers(source, self._damaged_member):
                entry = self._raw_entry(header)
                self._members_seen = header.index + 1
                yield entry
                # Back here only when the entry passed validation.
                if spool is not None and header.kind is EntryKind.FILE:
                    assert isinstance(source, StreamSource)
                    if not spool.store(header.index, entry.name, header.size, source):
                        raise self._damaged(
                            ErrorCode.TRUNCATED, "is truncated", entry.name
                        )
            if isinstance(source, StreamSource):
                source.drain()  # the checksum at the end of the stream is checked too
        finally:
            if isinstance(source, StreamSource):
                source.close()
        if not isinstance(source, StreamSource) and source.offset > self.size:
            raise self._damaged(ErrorCode.TRUNCATED, "is truncated")

    def _open_spool(self) -> SpoolFolder | None:
        if self._spool_parent is None:
            return None
        try:
            self._spool = SpoolFolder(self._spool_parent)
        except OSError as exc:
            raise write_error(exc, str(self._spool_parent)) from exc
        return self._spool

    def _raw_entry(self, header: TarHeader) -> RawEntry:
        name = decode_names([header.name])[0][0]
        return RawEntry(
            name=name,
            kind=header.kind,
            size=header.size,
            detail=header.detail,
            source=TarSource(header.index, header.data_offset, header.size),
        )

    def _guard(self, expanded: int, packed: int) -> None:
        """Report reading progress; stop a decompression bomb before it expands far."""
        if self._listing_progress is not None:
            self._listing_progress(self._members_seen, packed)
        if expanded > self.limits.max_total_bytes * 1.1 + 64 * 1024 * 1024:
            raise IngestError(
                ErrorCode.TOO_LARGE,
                f"The archive {self.archive_name!r} unpacks to more than "
                f"{self.limits.max_total_bytes} bytes.",
                limit=self.limits.max_total_bytes,
            )
        ratio = expanded / max(packed, 1)
        if expanded > TOTAL_RATIO_FLOOR and ratio > self.limits.max_total_ratio:
            raise IngestError(
                ErrorCode.RATIO_EXCEEDED,
                f"The archive {self.archive_name!r} expands more than "
                f"{self.limits.max_total_ratio:g} times its size; it looks like a "
                "decompression bomb.",
                limit=self.limits.max_total_ratio,
            )

    def _stream_damaged(self, code: ErrorCode, what: str) -> IngestError:
        return self._damaged(code, what)

    def _damaged_member(
        self, code: ErrorCode, what: str, member: str | None
    ) -> IngestError:
        return self._damaged(code, what, member)

    def _extract_files(
        self,
        writer: StagingWriter,
        on_progress: ProgressCallback,
        cancel: threading.Event,
    ) -> None:
        files = [m for m in writer.listing.members if not m.is_dir]
        if self._spool is not None:
            self._link_spooled(writer, files, on_progress, cancel)
        elif self.format is ArchiveFormat.TAR:
            files.sort(key=lambda m: self._sources[m.name].data_offset)
            run_members(
                files,
                lambda member, tick: self._copy_plain(writer, member, tick),
                workers=self.workers,
                on_progress=on_progress,
                cancel=cancel,
            )
        else:
            self._extract_stream(writer, files, on_progress, cancel)

    def _link_spooled(
        self,
        writer: StagingWriter,
        files: list[Member],
        on_progress: ProgressCallback,
        cancel: threading.Event,
    ) -> None:
        assert self._spool is not None
        done_bytes = 0
        for done_files, member in enumerate(files, start=1):
            if cancel.is_set():
                raise JobCancelled()
            self._spool.link_into(writer, self._sources[member.name].index, member.name)
            done_bytes += member.size
            on_progress(done_files, done_bytes)

    def _copy_plain(
        self, writer: StagingWriter, member: Member, tick: ProgressTick
    ) -> None:
        """Copy one member of a plain tar inside the kernel (no CRC to check in tar)."""
        source: TarSource = self._sources[member.name]
        fd = writer.open_file(member.name)
        try:
            offset, remaining = source.data_offset, source.size
            while remaining:
                try:
                    copied = os.copy_file_range(
                        self._fd, fd, min(COPY_CHUNK, remaining), offset
                    )
                except OSError as exc:
                    if exc.errno not in _NO_KERNEL_COPY:
                        raise write_error(exc, member.name) from exc
                    self._copy_by_hand(fd, member.name, offset, remaining, tick)
                    return
                if copied == 0:
                    raise self._damaged(
                        ErrorCode.TRUNCATED, "is truncated", member.name
                    )
                offset += copied
                remaining -= copied
                tick(copied)
        finally:
            os.close(fd)

    def _copy_by_hand(
        self, fd: int, name: str, offset: int, remaining: int, tick: ProgressTick
    ) -> None:
        while remaining:
            data = os.pread(self._fd, min(CHUNK, remaining), offset)
            if not data:
                raise self._damaged(ErrorCode.TRUNCATED, "is truncated", name)
            write_all(fd, data, name)
            offset += len(data)
            remaining -= len(data)
            tick(len(data))

    def _extract_stream(
        self,
        writer: StagingWriter,
        files: list[Member],
        on_progress: ProgressCallback,
        cancel: threading.Event,
    ) -> None:
        """One sequential pass over the decompressed tar, writing the listed files."""
        wanted = {self._sources[m.name].index: m for m in files}
        source = open_source(self._fd, self.size, self.format, self._stream_damaged)
        assert isinstance(source, StreamSource)
        done_files = done_bytes = 0

        try:
            for header in walk_headers(source, self._damaged_member):
                member = wanted.pop(header.index, None)
                if member is None:
                    continue
                if cancel.is_set():
                    raise JobCancelled()
                if header.size != member.size:
                    raise size_mismatch(member.name, member.size)
                done_bytes = self._write_from_stream(
                    writer, member, source, done_files, done_bytes, on_progress, cancel
                )
                done_files += 1
                on_progress(done_files, done_bytes)
                if not wanted:
                    break
        finally:
            source.close()
        if wanted:
            raise self._damaged(ErrorCode.CORRUPT, "changed while it was being read")

    def _write_from_stream(
        self,
        writer: StagingWriter,
        member: Member,
        source: StreamSource,
        done_files: int,
        done_bytes: int,
        on_progress: ProgressCallback,
        cancel: threading.Event,
    ) -> int:
        fd = writer.open_file(member.name)
        try:
            remaining = member.size
            while remaining:
                piece = source.read_some(min(remaining, CHUNK * 4))
                if not piece:
                    raise self._damaged(
                        ErrorCode.TRUNCATED, "is truncated", member.name
                    )
                write_all(fd, piece, member.name)
                remaining -= len(piece)
                done_bytes += len(piece)
                if remaining:
                    if cancel.is_set():
                        raise JobCancelled()
                    on_progress(done_files, done_bytes)
        finally:
            os.close(fd)
        return done_bytes
