"""Archive formats, recognised from their first bytes rather than their names."""

from __future__ import annotations

import enum
import tarfile

SNIFF_SIZE = 512


class ArchiveFormat(enum.StrEnum):
    """The archive formats signpipe can extract."""

    ZIP = "zip"
    TAR = "tar"
    TAR_GZ = "tar.gz"
    TAR_BZ2 = "tar.bz2"
    TAR_XZ = "tar.xz"
    TAR_ZST = "tar.zst"

    @property
    def is_tar(self) -> bool:
        return self is not ArchiveFormat.ZIP


_MAGIC: tuple[tuple[bytes, ArchiveFormat], ...] = (
    (b"PK\x03\x04", ArchiveFormat.ZIP),
    (b"PK\x05\x06", ArchiveFormat.ZIP),  # an empty zip: only the end record
    (b"PK\x07\x08", ArchiveFormat.ZIP),  # single-part "spanned" marker
    (b"\x1f\x8b", ArchiveFormat.TAR_GZ),
    (b"BZh", ArchiveFormat.TAR_BZ2),
    (b"\xfd7zXZ\x00", ArchiveFormat.TAR_XZ),
    (b"\x28\xb5\x2f\xfd", ArchiveFormat.TAR_ZST),
)

# Formats people will try that signpipe refuses, so the message can name them.
FOREIGN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "RAR"),
)


def sniff_format(head: bytes) -> ArchiveFormat | None:
    """The format of an archive from its first bytes (at least 512), or None."""
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    if _is_tar_header(head[:SNIFF_SIZE]):
        return ArchiveFormat.TAR
    return None


def foreign_format(head: bytes) -> str | None:
    """The name of a recognised but unsupported archive format, or None."""
    for magic, name in FOREIGN_MAGIC:
        if head.startswith(magic):
            return name
    return None


def _is_tar_header(block: bytes) -> bool:
    """True for a ustar/GNU header, or an old-style header whose checksum adds up."""
    if len(block) < SNIFF_SIZE:
        return False
    if block[257:262] == b"ustar":
        return True
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True
