"""Errors that end a job, each with one sentence for people and a stable code."""

from __future__ import annotations

import enum
from typing import Any


class ErrorCode(enum.StrEnum):
    """Stable codes carried in ``error_details["code"]``."""

    NOT_FOUND = "not_found"
    UNREADABLE = "unreadable"
    UNKNOWN_FORMAT = "unknown_format"
    EMPTY = "empty"
    NO_ROOT = "no_root"
    MULTIPLE_ROOTS = "multiple_roots"
    INVALID_RECORDING_ID = "invalid_recording_id"
    PATH_ESCAPE = "path_escape"
    BAD_NAME = "bad_name"
    DUPLICATE_NAME = "duplicate_name"
    NAME_COLLISION = "name_collision"
    LINK_MEMBER = "link_member"
    SPECIAL_MEMBER = "special_member"
    TOO_MANY_FILES = "too_many_files"
    TOO_LARGE = "too_large"
    RATIO_EXCEEDED = "ratio_exceeded"
    SIZE_MISMATCH = "size_mismatch"
    OVERLAPPING_ENTRIES = "overlapping_entries"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    CRC_MISMATCH = "crc_mismatch"
    ENCRYPTED = "encrypted"
    UNSUPPORTED_COMPRESSION = "unsupported_compression"
    ALREADY_EXISTS = "already_exists"
    NO_SPACE = "no_space"
    WRITE_FAILED = "write_failed"
    VERIFY_FAILED = "verify_failed"
    REDIS_UNAVAILABLE = "redis_unavailable"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    INTERNAL = "internal"

    def __str__(self) -> str:
        return self.value


# Faults of the archive's own bytes: a Retry of the same copy fails the same way, so
# a job ending with one keeps no spool copy. Limits and the recording id pattern are
# settings an admin may change before a Retry; those failures keep their copy.
ARCHIVE_FAULTS = frozenset(
    {
        ErrorCode.UNKNOWN_FORMAT,
        ErrorCode.EMPTY,
        ErrorCode.NO_ROOT,
        ErrorCode.MULTIPLE_ROOTS,
        ErrorCode.PATH_ESCAPE,
        ErrorCode.BAD_NAME,
        ErrorCode.DUPLICATE_NAME,
        ErrorCode.NAME_COLLISION,
        ErrorCode.LINK_MEMBER,
        ErrorCode.SPECIAL_MEMBER,
        ErrorCode.SIZE_MISMATCH,
        ErrorCode.OVERLAPPING_ENTRIES,
        ErrorCode.TRUNCATED,
        ErrorCode.CORRUPT,
        ErrorCode.CRC_MISMATCH,
        ErrorCode.ENCRYPTED,
        ErrorCode.UNSUPPORTED_COMPRESSION,
    }
)


class IngestError(Exception):
    """A reason an archive cannot become a recording.

    ``message`` is one sentence a lab user can read; ``details`` is the structured
    part (code, member, limit, ...) stored as the job's ``error_details``.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        member: str | None = None,
        limit: Any = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.member = member
        self.limit = limit
        self.extra = extra

    @property
    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"code": self.code.value}
        if self.member is not None:
            details["member"] = self.member
        if self.limit is not None:
            details["limit"] = self.limit
        details.update(self.extra)
        return details


class JobCancelled(IngestError):
    """The user asked the job to stop."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.CANCELLED, "Cancelled by the user.")


RECORDING_EXISTS_MESSAGE = "Recording already exists."
