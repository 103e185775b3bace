"""Reading recording archives safely: identify, list and validate, then extract.

Usage::

    with open_archive(path, ArchiveLimits.from_settings(settings)) as archive:
        listing = archive.listing()          # validates everything, writes nothing
        archive.extract(listing, staging, on_progress=report, cancel=flag)
    verify_tree(staging / listing.recording_id, listing)
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ErrorCode, IngestError
from .formats import SNIFF_SIZE, ArchiveFormat, foreign_format, sniff_format
from .limits import ArchiveLimits
from .listing import Listing, Member
from .reader import ArchiveReader
from .tar_reader import TarReader
from .verify import verify_tree
from .zip_reader import ZipReader

__all__ = [
    "ArchiveFormat",
    "ArchiveLimits",
    "ArchiveReader",
    "Listing",
    "Member",
    "open_archive",
    "sniff_format",
    "verify_tree",
]


def open_archive(
    path: Path,
    limits: ArchiveLimits,
    *,
    archive_name: str | None = None,
    fmt: ArchiveFormat | None = None,
    spool: Path | None = None,
) -> ArchiveReader:
    """Open an archive of a format recognised from its bytes (or the one given).

    ``spool``, a folder on the store's file system, lets a compressed tar be
    inflated once: member data is kept there while listing (each member after it
    passed validation) and linked into staging by extract(). Without it, a
    compressed tar is inflated twice, once to list and once to extract.
    """
    shown = archive_name or Path(path).name
    if fmt is None:
        fmt = _sniff_file(Path(path), shown)
    if fmt is ArchiveFormat.ZIP:
        return ZipReader(path, limits, archive_name=archive_name)
    return TarReader(
        path, limits, archive_name=archive_name, fmt=fmt, spool_parent=spool
    )


def _sniff_file(path: Path, shown: str) -> ArchiveFormat:
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_SIZE)
    except OSError as exc:
        code = ErrorCode.NOT_FOUND if not os.path.exists(path) else ErrorCode.UNREADABLE
        raise IngestError(
            code, f"The archive {shown!r} cannot be read: {exc.strerror or exc}."
        ) from exc

    fmt = sniff_format(head)
    if fmt is not None:
        return fmt
    foreign = foreign_format(head)
    if foreign:
        raise IngestError(
            ErrorCode.UNKNOWN_FORMAT,
            f"The archive {shown!r} is a {foreign} archive, which signpipe does not "
            "extract; please repack it as zip or tar.",
            format=foreign,
        )
    raise IngestError(
        ErrorCode.UNKNOWN_FORMAT,
        f"The file {shown!r} is not a zip or tar archive signpipe can read.",
    )
