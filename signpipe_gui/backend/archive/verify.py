"""Checking a staged recording against the listing it was extracted from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

from ..errors import ErrorCode, IngestError
from .listing import Listing


def verify_tree(staged_recording: Path, listing: Listing) -> int:
    """Every listed file present with its size and nothing extra; the total bytes."""
    expected = {
        member.name.split("/", 1)[1] if "/" in member.name else "": member
        for member in listing.members
    }
    seen: set[str] = set()
    total = 0

    for folder, dirnames, filenames in os.walk(staged_recording):
        relative = os.path.relpath(folder, staged_recording)
        prefix = "" if relative == "." else relative + "/"
        for name in dirnames + filenames:
            path = prefix + name
            member = expected.get(path)
            info = os.lstat(os.path.join(folder, name))
            if member is None or _mismatch(member.is_dir, member.size, info):
                _fail(path, listing, "is not as the archive lists it")
            seen.add(path)
            total += member.size

    missing = sorted(set(expected) - seen - {""})
    if missing:
        _fail(missing[0], listing, "is missing after extraction")
    return total


def _mismatch(is_dir: bool, size: int, info: os.stat_result) -> bool:
    import stat

    if is_dir:
        return not stat.S_ISDIR(info.st_mode)
    return not stat.S_ISREG(info.st_mode) or info.st_size != size


def _fail(path: str, listing: Listing, what: str) -> NoReturn:
    name = f"{listing.recording_id}/{path}"
    raise IngestError(
        ErrorCode.VERIFY_FAILED,
        f"The extracted file {name!r} {what}; the extraction was not kept.",
        member=name,
    )
