"""The budgets an archive must stay within before and while it is extracted."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import DEFAULT_RECORDING_ID_PATTERN, Settings

# Ratios are only judged above these sizes: a tiny file of zeros compresses a
# thousandfold and is no threat, while a bomb needs volume to do harm.
MEMBER_RATIO_FLOOR = 1024 * 1024
TOTAL_RATIO_FLOOR = 16 * 1024 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    """Entry count, size and compression-ratio budgets, plus the recording id rule."""

    max_files: int = 200_000
    max_total_bytes: int = 2 * 1024**4
    max_member_ratio: float = 200.0
    max_total_ratio: float = 100.0
    recording_id_pattern: str = DEFAULT_RECORDING_ID_PATTERN

    @classmethod
    def from_settings(cls, settings: Settings) -> ArchiveLimits:
        """The limits configured in ``settings``."""
        return cls(
            max_files=settings.max_files,
            max_total_bytes=settings.max_total_bytes,
            max_member_ratio=settings.max_member_ratio,
            max_total_ratio=settings.max_total_ratio,
            recording_id_pattern=settings.recording_id_pattern,
        )
