"""Zip archives: the central directory checked against the local headers, then
members inflated in parallel (inflate releases the GIL) into the staging folder."""

from __future__ import annotations

import logging
import os
import stat
import struct
import threading
import zipfile
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ErrorCode, IngestError
from .codecs import CorruptStream, crc32, member_decompressor
from .formats import ArchiveFormat
from .limits import ArchiveLimits
from .listing import EntryKind, RawEntry
from .names import decode_names
from .parallel import ProgressTick, run_members
from .reader import CHUNK, ArchiveReader, ProgressCallback
from .writer import StagingWriter, size_mismatch, write_all

logger = logging.getLogger(__name__)

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_EOCD_SIGNATURE = b"PK\x05\x06"
_UNICODE_PATH_EXTRA = 0x7075
_FLAG_ENCRYPTED = 0x1
_FLAG_UTF8 = 0x800
_METHOD_AES = 99
SUPPORTED_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_SPECIAL_KINDS = {
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
}


@dataclass(frozen=True)
class ZipSource:
    """Where one member's data lies in the archive and what it must check out to."""

    data_offset: int
    compressed_size: int
    size: int
    crc: int
    method: int


class ZipReader(ArchiveReader):
    """Reads zip and zip64 archives: stored, deflate, bzip2 and lzma members."""

    format = ArchiveFormat.ZIP

    def __init__(
        self, path: Path, limits: ArchiveLimits, *, archive_name: str | None
    ) -> None:
        super().__init__(path, limits, archive_name=archive_name)
        self.workers = 2

    def _entries(self) -> Generator[RawEntry, None, None]:
        infos, central_start = self._central_directory()
        names = self._names(infos)
        pairs = list(zip(infos, names, strict=True))
        headers = [self._local_header(info, name) for info, name in pairs]
        # Overlaps first: a bomb's members share bytes, and says so before it says
        # anything else odd about its headers.
        self._check_ranges(
            [
                (info.header_offset, offset + info.compress_size, name)
                for info, name, (offset, _) in zip(infos, names, headers, strict=True)
            ],
            central_start,
        )
        for (info, name), (data_offset, local_name) in zip(pairs, headers, strict=True):
            if local_name != _raw_name(info):
                raise self._damaged(
                    ErrorCode.CORRUPT,
                    "names a member differently in its local header and directory",
                    name,
                )
            yield self._raw_entry(info, name, data_offset)

    def _central_directory(self) -> tuple[list[zipfile.ZipInfo], int]:
        try:
            with open(self._fd, "rb", closefd=False) as fh, zipfile.ZipFile(fh) as zf:
                infos = zf.infolist()
                central_start = zf.start_dir  # type: ignore[attr-defined]
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            if not self._has_end_record():
                raise self._damaged(
                    ErrorCode.TRUNCATED,
                    "is truncated: its central directory is missing",
                ) from exc
            raise self._damaged(
                ErrorCode.CORRUPT, f"has a damaged central directory ({exc})"
            ) from exc
        except NotImplementedError as exc:
            raise IngestError(
                ErrorCode.UNSUPPORTED_COMPRESSION,
                f"The archive {self.archive_name!r} uses a zip feature signpipe "
                f"cannot read ({exc}).",
            ) from exc
        return infos, central_start

    def _has_end_record(self) -> bool:
        tail_size = min(self.size, 65536 + 22)
        tail = _pread_exact(self._fd, tail_size, self.size - tail_size)
        return _EOCD_SIGNATURE in tail

    def _names(self, infos: list[zipfile.ZipInfo]) -> list[str]:
        """Decode every name: flagged UTF-8, the Unicode path extra, else a guess."""
        undeclared = [i for i in infos if not i.flag_bits & _FLAG_UTF8]
        guessed, codepage = decode_names(
            i.orig_filename.encode("cp437") for i in undeclared
        )
        by_info = dict(zip(map(id, undeclared), guessed, strict=True))
        names = []
        for info in infos:
            name = by_info.get(id(info), info.orig_filename)
            names.append(_unicode_path_extra(info) or name)
        if codepage not in ("ascii", "utf-8"):
            logger.info(
                "Archive %s has undeclared legacy names, read as %s",
                self.archive_name,
                codepage,
            )
        return names

    def _local_header(self, info: zipfile.ZipInfo, name: str) -> tuple[int, bytes]:
        """The offset of the member's data, and the name its local header gives."""
        raw = _pread_exact(self._fd, _LOCAL_HEADER.size, info.header_offset)
        if len(raw) < _LOCAL_HEADER.size:
            raise self._damaged(ErrorCode.TRUNCATED, "is truncated", name)
        fields = _LOCAL_HEADER.unpack(raw)
        if fields[0] != _LOCAL_SIGNATURE:
            raise self._damaged(ErrorCode.CORRUPT, "has a damaged local header", name)
        name_len, extra_len = fields[9], fields[10]
        name_at = info.header_offset + _LOCAL_HEADER.size
        local_name = _pread_exact(self._fd, name_len, name_at)
        return name_at + name_len + extra_len, local_name

    def _raw_entry(
        self, info: zipfile.ZipInfo, name: str, data_offset: int
    ) -> RawEntry:
        kind, detail = _kind(info, name)
        encrypted = bool(info.flag_bits & _FLAG_ENCRYPTED) or (
            info.compress_type == _METHOD_AES
        )
        problem = None
        if kind is EntryKind.FILE and not encrypted:
            if info.compress_type not in SUPPORTED_METHODS:
                problem = IngestError(
                    ErrorCode.UNSUPPORTED_COMPRESSION,
                    f"The archive member {name!r} uses zip compression method "
                    f"{info.compress_type}, which signpipe cannot read; repack it "
                    "with deflate or stored.",
                    member=name,
                )
        source = ZipSource(
            data_offset,
            info.compress_size,
            info.file_size,
            info.CRC,
            info.compress_type,
        )
        return RawEntry(
            name=name,
            kind=kind,
            size=info.file_size if kind is EntryKind.FILE else 0,
            compressed_size=info.compress_size,
            encrypted=encrypted,
            detail=detail,
            problem=problem,
            source=source,
        )

    def _check_ranges(
        self, ranges: list[tuple[int, int, str]], central_start: int
    ) -> None:
        """Every member's bytes lie apart from the others' and before the directory."""
        ranges.sort()
        previous_end, previous_name = 0, ""
        for start, end, name in ranges:
            if start < previous_end:
                raise IngestError(
                    ErrorCode.OVERLAPPING_ENTRIES,
                    f"The archive members {previous_name!r} and {name!r} share the "
                    "same bytes; overlapping entries are a zip bomb technique.",
                    member=name,
                )
            previous_end, previous_name = end, name
        if previous_end > self.size:
            raise self._damaged(ErrorCode.TRUNCATED, "is truncated", previous_name)
        if previous_end > central_start:
            raise IngestError(
                ErrorCode.OVERLAPPING_ENTRIES,
                f"The archive member {previous_name!r} overlaps the zip directory.",
                member=previous_name,
            )

    def _extract_files(
        self,
        writer: StagingWriter,
        on_progress: ProgressCallback,
        cancel: threading.Event,
    ) -> None:
        files = [m for m in writer.listing.members if not m.is_dir]
        # Archive order keeps the reads sequential even with two workers.
        files.sort(key=lambda m: self._sources[m.name].data_offset)
        run_members(
            files,
            lambda member, tick: self._extract_member(writer, member.name, tick),
            workers=self.workers,
            on_progress=on_progress,
            cancel=cancel,
        )

    def _extract_member(
        self, writer: StagingWriter, name: str, tick: ProgressTick
    ) -> None:
        source: ZipSource = self._sources[name]
        fd = writer.open_file(name)
        try:
            if source.method == zipfile.ZIP_STORED:
                crc = self._copy_stored(fd, name, source, tick)
            else:
                crc = self._inflate(fd, name, source, tick)
        finally:
            os.close(fd)
        if crc != source.crc:
            raise IngestError(
                ErrorCode.CRC_MISMATCH,
                f"The archive member {name!r} fails its CRC check; the archive is "
                "damaged.",
                member=name,
            )

    def _copy_stored(
        self, fd: int, name: str, source: ZipSource, tick: ProgressTick
    ) -> int:
        if source.compressed_size != source.size:
            raise size_mismatch(name, source.size)
        crc, offset, remaining = 0, source.data_offset, source.size
        buffer = bytearray(min(CHUNK, max(remaining, 1)))
        view = memoryview(buffer)
        while remaining:
            want = min(len(buffer), remaining)
            got = os.preadv(self._fd, [view[:want]], offset)
            if got == 0:
                raise self._damaged(ErrorCode.TRUNCATED, "is truncated", name)
            crc = crc32(view[:got], crc)
            write_all(fd, view[:got], name)
            offset += got
            remaining -= got
            tick(got)
        return crc

    def _inflate(
        self, fd: int, name: str, source: ZipSource, tick: ProgressTick
    ) -> int:
        offset, remaining = source.data_offset, source.compressed_size
        head = b""
        if source.method == zipfile.ZIP_LZMA:
            head = _pread_exact(self._fd, 4, offset)
            props_size = int.from_bytes(head[2:4], "little")
            head = _pread_exact(self._fd, 4 + props_size, offset)
        stream = member_decompressor(source.method, head)
        offset += len(head)
        remaining -= len(head)

        crc, written = 0, 0
        try:
            while remaining and not stream.eof:
                data = os.pread(self._fd, min(CHUNK, remaining), offset)
                if not data:
                    raise self._damaged(ErrorCode.TRUNCATED, "is truncated", name)
                offset += len(data)
                remaining -= len(data)
                for out in stream.feed(data):
                    written += len(out)
                    if written > source.size:
                        raise size_mismatch(name, source.size)
                    crc = crc32(out, crc)
                    write_all(fd, out, name)
                    tick(len(out))
        except CorruptStream as exc:
            raise self._damaged(
                ErrorCode.CORRUPT, "holds a damaged compressed stream", name
            ) from exc

        if remaining or not stream.complete(written == source.size):
            raise self._damaged(
                ErrorCode.CORRUPT, "holds a damaged compressed stream", name
            )
        if written != source.size:
            raise size_mismatch(name, source.size)
        return crc


def _kind(info: zipfile.ZipInfo, name: str) -> tuple[EntryKind, str]:
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode:
        file_type = stat.S_IFMT(mode)
        if file_type == stat.S_IFLNK:
            return EntryKind.SYMLINK, ""
        if file_type in _SPECIAL_KINDS:
            return EntryKind.SPECIAL, _SPECIAL_KINDS[file_type]
        if file_type == stat.S_IFDIR:
            return EntryKind.DIR, ""
    if name.endswith(("/", "\\")) or info.external_attr & 0x10:
        return EntryKind.DIR, ""
    return EntryKind.FILE, ""


def _unicode_path_extra(info: zipfile.ZipInfo) -> str | None:
    """The Info-ZIP Unicode path (extra 0x7075), when it matches the stored name."""
    extra = info.extra
    while len(extra) >= 4:
        kind, size = struct.unpack("<HH", extra[:4])
        body = extra[4 : 4 + size]
        extra = extra[4 + size :]
        if kind != _UNICODE_PATH_EXTRA or len(body) < 5 or body[0] != 1:
            continue
        if struct.unpack("<I", body[1:5])[0] != crc32(_raw_name(info)):
            continue
        try:
            return body[5:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    """The name's bytes as stored (zipfile decodes them as UTF-8 or cp437)."""
    return info.orig_filename.encode(
        "utf-8" if info.flag_bits & _FLAG_UTF8 else "cp437"
    )


def _pread_exact(fd: int, size: int, offset: int) -> bytes:
    return os.pread(fd, size, offset) if size > 0 else b""
