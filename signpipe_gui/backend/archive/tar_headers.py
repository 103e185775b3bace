"""Walking tar headers (ustar, GNU long names, pax) over a byte source."""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import ErrorCode, IngestError
from .listing import EntryKind
from .tar_stream import FileSource, StreamSource

BLOCK = 512

_KINDS = {
    tarfile.REGTYPE: (EntryKind.FILE, ""),
    tarfile.AREGTYPE: (EntryKind.FILE, ""),
    tarfile.CONTTYPE: (EntryKind.FILE, ""),
    tarfile.DIRTYPE: (EntryKind.DIR, ""),
    tarfile.SYMTYPE: (EntryKind.SYMLINK, ""),
    tarfile.LNKTYPE: (EntryKind.HARDLINK, ""),
    tarfile.CHRTYPE: (EntryKind.SPECIAL, "character device"),
    tarfile.BLKTYPE: (EntryKind.SPECIAL, "block device"),
    tarfile.FIFOTYPE: (EntryKind.SPECIAL, "FIFO"),
    tarfile.GNUTYPE_SPARSE: (EntryKind.SPECIAL, "sparse file"),
}
_SKIPPED_TYPES = (b"V", b"g")  # volume labels and global pax headers


@dataclass(frozen=True)
class TarHeader:
    """One tar entry: raw name bytes, what it is, and where its data starts."""

    index: int
    name: bytes
    kind: EntryKind
    detail: str
    size: int
    data_offset: int


Damaged = Callable[[ErrorCode, str, str | None], IngestError]


def walk_headers(
    source: FileSource | StreamSource, damaged: Damaged
) -> Iterator[TarHeader]:
    """Yield each entry; the caller may read its data before asking for the next."""
    pax: dict[bytes, bytes] = {}
    long_name: bytes | None = None
    index = 0
    last_name: str | None = None

    while True:
        block = bytes(source.read(BLOCK))
        if not block:
            return  # some writers omit the end-of-archive blocks
        if len(block) < BLOCK:
            raise damaged(ErrorCode.TRUNCATED, "is truncated", last_name)
        if not block.strip(b"\x00"):
            return
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise damaged(
                ErrorCode.CORRUPT, "has a damaged tar header", last_name
            ) from exc

        size = int(pax.get(b"size", info.size))
        kind_code = info.type
        if kind_code in (tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE) or (
            kind_code in (tarfile.GNUTYPE_LONGLINK, *_SKIPPED_TYPES)
        ):
            data = _read_exact(source, _padded(info.size), damaged, last_name)
            if kind_code == tarfile.GNUTYPE_LONGNAME:
                long_name = data[: info.size].split(b"\x00", 1)[0]
            elif kind_code == tarfile.XHDTYPE:
                pax = _pax_records(data[: info.size], damaged, last_name)
            continue

        name = (
            pax.get(b"path")
            or long_name
            or info.name.encode("utf-8", "surrogateescape")
        )
        if info.type == tarfile.AREGTYPE and name.endswith(b"/"):
            kind_code = tarfile.DIRTYPE
        kind, detail = _KINDS.get(kind_code, (EntryKind.SPECIAL, ""))
        if not detail and kind is EntryKind.SPECIAL:
            detail = f"tar entry of unknown type {kind_code!r}"
        if any(key.startswith(b"GNU.sparse") for key in pax):
            kind, detail = EntryKind.SPECIAL, "sparse file"
        last_name = name.decode("utf-8", "replace")

        data_offset = source.offset
        data_size = size if kind is EntryKind.FILE else 0
        yield TarHeader(index, name, kind, detail, data_size, data_offset)
        index += 1
        pax, long_name = {}, None

        # Data of links and folders is skipped too: its size says how much there is.
        end = data_offset + _padded(size if kind_code not in (b"1", b"2") else 0)
        if not source.skip(end - source.offset):
            raise damaged(ErrorCode.TRUNCATED, "is truncated", last_name)


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _read_exact(
    source: FileSource | StreamSource, count: int, damaged: Damaged, member: str | None
) -> bytes:
    if count > 16 * 1024 * 1024:
        raise damaged(
            ErrorCode.CORRUPT, "has an oversized tar extension header", member
        )
    data = bytes(source.read(count))
    if len(data) < count:
        raise damaged(ErrorCode.TRUNCATED, "is truncated", member)
    return data


def _pax_records(
    data: bytes, damaged: Damaged, member: str | None
) -> dict[bytes, bytes]:
    """Parse pax records, ``"<length> <key>=<value>\\n"`` each."""
    records: dict[bytes, bytes] = {}
    position = 0
    while position < len(data) and data[position] != 0:
        space = data.find(b" ", position)
        try:
            length = int(data[position:space])
        except ValueError:
            length = 0
        record = data[space + 1 : position + length - 1]
        if space < 0 or length <= 0 or b"=" not in record:
            raise damaged(ErrorCode.CORRUPT, "has a damaged pax header", member)
        key, _, value = record.partition(b"=")
        records[key] = value
        position += length
    if b"size" in records and not records[b"size"].isdigit():
        raise damaged(ErrorCode.CORRUPT, "has a damaged pax header", member)
    return records
