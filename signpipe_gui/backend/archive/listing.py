"""An archive's raw entries turned into a validated listing, before any write."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ErrorCode, IngestError
from ..recording_id import is_valid_recording_id
from .limits import MEMBER_RATIO_FLOOR, TOTAL_RATIO_FLOOR, ArchiveLimits
from .names import is_clutter, split_name

ARCHIVE_SUFFIXES = (
    ".zip", ".tar", ".gz", ".tgz", ".bz2", ".tbz", ".tbz2", ".xz", ".txz", ".zst",
    ".tzst",
)  # fmt: skip


class EntryKind(enum.Enum):
    """What an archive entry would create."""

    FILE = "file"
    DIR = "folder"
    SYMLINK = "symbolic link"
    HARDLINK = "hard link"
    SPECIAL = "special file"


@dataclass(frozen=True)
class RawEntry:
    """One entry as a format reader found it, name decoded but not yet checked."""

    name: str
    kind: EntryKind
    size: int
    compressed_size: int | None = None
    encrypted: bool = False
    detail: str = ""
    problem: IngestError | None = field(default=None, compare=False)
    source: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class Member:
    """One validated entry: an NFC, '/'-separated name under the recording folder."""

    name: str
    size: int
    is_dir: bool


@dataclass(frozen=True)
class Listing:
    """The validated contents of an archive: what extraction will create."""

    recording_id: str
    members: tuple[Member, ...]
    total_files: int
    total_bytes: int


def archive_stem(archive_name: str | None) -> str:
    """The archive's file name without its archive extensions."""
    stem = (archive_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    while True:
        lowered = stem.lower()
        suffix = next((s for s in ARCHIVE_SUFFIXES if lowered.endswith(s)), None)
        if suffix is None or len(stem) == len(suffix):
            return stem
        stem = stem[: -len(suffix)]


def build_listing(
    entries: Iterable[RawEntry],
    limits: ArchiveLimits,
    *,
    archive_name: str | None,
    archive_size: int,
) -> tuple[Listing, dict[str, Any]]:
    """Validate every entry and decide the recording folder.

    Returns the listing and, per file name in it, the reader's source for that entry.
    """
    files: dict[str, RawEntry] = {}
    dirs: set[str] = set()
    total_bytes = 0

    for entry in entries:
        parts, is_dir = split_name(entry.name)
        if not parts and entry.kind is EntryKind.DIR:
            continue
        if not parts or is_clutter(parts):
            continue
        name = "/".join(parts)
        _check_kind(entry, name)
        if is_dir or entry.kind is EntryKind.DIR:
            if name in files:
                _duplicate(name)
            dirs.add(name)
            continue
        if name in files or name in dirs:
            _duplicate(name)
        files[name] = entry
        total_bytes += entry.size
        _check_budgets(entry, name, len(files), total_bytes, limits)

    if not files and not dirs:
        raise IngestError(ErrorCode.EMPTY, "The archive holds no files.")
    for name in [*files, *dirs]:
        dirs.update(_parents(name))
    _check_collisions(files, dirs)
    _check_total_ratio(total_bytes, archive_size, limits)

    root, prefix = _recording_folder(files, dirs, limits, archive_name)
    folders = sorted({prefix + d for d in dirs} | ({root} if prefix else set()))
    members = [Member(d, 0, True) for d in folders]
    members += [Member(prefix + n, e.size, False) for n, e in files.items()]
    sources = {prefix + n: e.source for n, e in files.items()}
    listing = Listing(root, tuple(members), len(files), total_bytes)
    return listing, sources


def _check_kind(entry: RawEntry, name: str) -> None:
    if entry.kind in (EntryKind.SYMLINK, EntryKind.HARDLINK):
        raise IngestError(
            ErrorCode.LINK_MEMBER,
            f"The archive member {name!r} is a {entry.kind.value}; "
            "only regular files and folders are allowed.",
            member=name,
        )
    if entry.kind is EntryKind.SPECIAL:
        raise IngestError(
            ErrorCode.SPECIAL_MEMBER,
            f"The archive member {name!r} is a {entry.detail or 'special file'}; "
            "only regular files and folders are allowed.",
            member=name,
        )
    if entry.problem is not None:
        raise entry.problem
    if entry.encrypted:
        raise IngestError(
            ErrorCode.ENCRYPTED,
            f"The archive member {name!r} is encrypted; signpipe cannot extract "
            "password-protected archives, please repack it without a password.",
            member=name,
        )


def _duplicate(name: str) -> None:
    raise IngestError(
        ErrorCode.DUPLICATE_NAME,
        f"The archive holds {name!r} more than once.",
        member=name,
    )


def _check_budgets(
    entry: RawEntry, name: str, count: int, total: int, limits: ArchiveLimits
) -> None:
    if count > limits.max_files:
        raise IngestError(
            ErrorCode.TOO_MANY_FILES,
            f"The archive holds more than {limits.max_files} files "
            f"(stopped at {name!r}).",
            member=name,
            limit=limits.max_files,
        )
    if total > limits.max_total_bytes:
        raise IngestError(
            ErrorCode.TOO_LARGE,
            f"The archive unpacks to more than {limits.max_total_bytes} bytes "
            f"(reached at {name!r}).",
            member=name,
            limit=limits.max_total_bytes,
        )
    packed = entry.compressed_size
    if packed is not None and entry.size > MEMBER_RATIO_FLOOR:
        ratio = entry.size / max(packed, 1)
        if ratio > limits.max_member_ratio:
            raise IngestError(
                ErrorCode.RATIO_EXCEEDED,
                f"The archive member {name!r} expands {ratio:.0f} times, more than "
                f"the allowed {limits.max_member_ratio:g}; it looks like a zip bomb.",
                member=name,
                limit=limits.max_member_ratio,
            )


def _check_total_ratio(total: int, archive_size: int, limits: ArchiveLimits) -> None:
    ratio = total / max(archive_size, 1)
    if total > TOTAL_RATIO_FLOOR and ratio > limits.max_total_ratio:
        raise IngestError(
            ErrorCode.RATIO_EXCEEDED,
            f"The archive expands {ratio:.0f} times its size, more than the allowed "
            f"{limits.max_total_ratio:g}; it looks like a decompression bomb.",
            limit=limits.max_total_ratio,
        )


def _parents(name: str) -> Iterable[str]:
    parts = name.split("/")
    return ("/".join(parts[:i]) for i in range(1, len(parts)))


def _check_collisions(files: dict[str, RawEntry], dirs: set[str]) -> None:
    for name in files:
        if name in dirs:
            raise IngestError(
                ErrorCode.NAME_COLLISION,
                f"The archive uses {name!r} both as a file and as a folder.",
                member=name,
            )
    seen: dict[str, str] = {}
    for name in sorted(dirs) + list(files):
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            raise IngestError(
                ErrorCode.NAME_COLLISION,
                f"The archive members {other!r} and {name!r} differ only in case, "
                "which not every file system can hold.",
                member=name,
            )


def _recording_folder(
    files: dict[str, RawEntry],
    dirs: set[str],
    limits: ArchiveLimits,
    archive_name: str | None,
) -> tuple[str, str]:
    """The recording id and the prefix to put before every member name."""
    pattern = limits.recording_id_pattern
    tops = sorted({n.split("/", 1)[0] for n in (*files, *dirs)})
    top_files = sorted(n for n in files if "/" not in n)

    if len(tops) == 1 and not top_files and is_valid_recording_id(tops[0], pattern):
        return tops[0], ""
    stem = archive_stem(archive_name)
    valid_tops = [t for t in tops if is_valid_recording_id(t, pattern)]
    if not valid_tops and is_valid_recording_id(stem, pattern):
        return stem, stem + "/"

    if len(tops) == 1 and not top_files:
        raise IngestError(
            ErrorCode.INVALID_RECORDING_ID,
            f"The archive's folder {tops[0]!r} is not a recording id "
            "(expected a start time like 2024_05_20_23_32_53_415).",
            member=tops[0],
            limit=pattern,
        )
    if top_files:
        raise IngestError(
            ErrorCode.NO_ROOT,
            f"The archive has files such as {top_files[0]!r} outside a recording "
            "folder, and its own name is not a recording id to put them under.",
            member=top_files[0],
            limit=pattern,
        )
    raise IngestError(
        ErrorCode.MULTIPLE_ROOTS,
        f"The archive holds {len(tops)} top-level folders ({tops[0]!r}, "
        f"{tops[1]!r}, ...); it must hold exactly one recording folder.",
        member=tops[1],
        limit=1,
    )
