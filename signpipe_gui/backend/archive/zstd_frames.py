"""A structural walk over zstd frames, to tell a complete stream from a cut one.

The zstandard package's streaming readers end quietly at a cut frame, so the
frames are walked here: headers and block headers only, the data is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import ErrorCode, IngestError

_FRAME_MAGIC = 0xFD2FB528
_SKIPPABLE_MASK = 0xFFFFFFF0
_SKIPPABLE_MAGIC = 0x184D2A50
_RLE_BLOCK = 1
_RESERVED_BLOCK = 3


def check_zstd_frames(
    fd: int, size: int, damaged: Callable[[ErrorCode, str], IngestError]
) -> None:
    """Raise truncated/corrupt unless the file is a whole sequence of zstd frames."""
    offset = 0
    while offset < size:
        magic = _read_int(fd, offset, 4, size, damaged)
        if magic & _SKIPPABLE_MASK == _SKIPPABLE_MAGIC:
            offset += 8 + _read_int(fd, offset + 4, 4, size, damaged)
            continue
        if magic != _FRAME_MAGIC:
            raise damaged(ErrorCode.CORRUPT, "holds damaged compressed data")
        offset = _walk_frame(fd, offset + 4, size, damaged)
    if offset != size:
        raise damaged(
            ErrorCode.TRUNCATED, "is truncated: its compressed data ends early"
        )


def _walk_frame(
    fd: int, offset: int, size: int, damaged: Callable[[ErrorCode, str], IngestError]
) -> int:
    descriptor = _read_int(fd, offset, 1, size, damaged)
    single_segment = descriptor >> 5 & 1
    has_checksum = descriptor >> 2 & 1
    dict_id_size = (0, 1, 2, 4)[descriptor & 3]
    content_size_code = descriptor >> 6
    content_size_size = (single_segment, 2, 4, 8)[content_size_code]
    offset += 1 + (0 if single_segment else 1) + dict_id_size + content_size_size

    while True:
        header = _read_int(fd, offset, 3, size, damaged)
        last, block_type, block_size = header & 1, header >> 1 & 3, header >> 3
        if block_type == _RESERVED_BLOCK:
            raise damaged(ErrorCode.CORRUPT, "holds damaged compressed data")
        offset += 3 + (1 if block_type == _RLE_BLOCK else block_size)
        if last:
            return offset + 4 * has_checksum


def _read_int(
    fd: int,
    offset: int,
    width: int,
    size: int,
    damaged: Callable[[ErrorCode, str], IngestError],
) -> int:
    data = os.pread(fd, width, offset) if offset + width <= size else b""
    if len(data) != width:
        raise damaged(
            ErrorCode.TRUNCATED, "is truncated: its compressed data ends early"
        )
    return int.from_bytes(data, "little")
