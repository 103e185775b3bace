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
_EXTENSION_TYPES = frozenset(
    (
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
        tarfile.XHDTYPE,
        *_SKIPPED_TYPES,
    )
)
_USTAR_MAGIC = b"ustar\x00"
# The checksum is computed with its own eight bytes taken as spaces.
_CHECKSUM_SPACES = 8 * 0x20


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
        parsed = _parse_plain(block) or _parse_any(block, damaged, last_name)
        header_name, kind_code, header_size = parsed

        size = int(pax.get(b"size", header_size))
        if kind_code in _EXTENSION_TYPES:
            data = _read_exact(source, _padded(header_size), damaged, last_name)
            if kind_code == tarfile.GNUTYPE_LONGNAME:
                long_name = data[:header_size].split(b"\x00", 1)[0]
            elif kind_code == tarfile.XHDTYPE:
                pax = _pax_records(data[:header_size], damaged, last_name)
            continue

        name = pax.get(b"path") or long_name or header_name
        if kind_code == tarfile.AREGTYPE and name.endswith(b"/"):
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

        # As GNU tar and tarfile do, only regular files (and types nobody knows)
        # carry data; the size field of a folder, link or device is ignored.
        carries_data = kind is EntryKind.FILE or kind_code not in _KINDS
        end = data_offset + _padded(size if carries_data else 0)
        if not source.skip(end - source.offset):
            raise damaged(ErrorCode.TRUNCATED, "is truncated", last_name)


def _parse_plain(block: bytes) -> tuple[bytes, bytes, int] | None:
    """Name, type and size of an ordinary ustar/GNU header; None for anything else.

    This is the common case, kept fast: tarfile's parser costs several times as
    much per header, which shows on archives of thousands of small frames.
    """
    checksum, size_field = block[148:156], block[124:136]
    if size_field[0] & 0x80:
        return None  # base-256 size
    try:
        stored = int(checksum.strip(b" \x00") or b"0", 8)
        size = int(size_field.strip(b" \x00") or b"0", 8)
    except ValueError:
        return None
    if stored != sum(block) - sum(checksum) + _CHECKSUM_SPACES:
        return None  # a signed-sum checksum, or damage: tarfile decides

    name = block[:100].split(b"\x00", 1)[0]
    kind_code = block[156:157]
    if block[257:263] == _USTAR_MAGIC and kind_code not in tarfile.GNU_TYPES:
        prefix = block[345:500].split(b"\x00", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    return name, kind_code, size


def _parse_any(
    block: bytes, damaged: Damaged, member: str | None
) -> tuple[bytes, bytes, int]:
    try:
        info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError as exc:
        raise damaged(ErrorCode.CORRUPT, "has a damaged tar header", member) from exc
    return info.name.encode("utf-8", "surrogateescape"), info.type, info.size


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
