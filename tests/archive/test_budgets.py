"""Budgets: entry count, total size, and compression ratios (bombs) before writing."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

import zstandard

from signpipe_gui.backend.archive import ArchiveLimits
from signpipe_gui.backend.errors import ErrorCode

from .conftest import RID, Harness, build_tar, build_zip, recording_files

MIB = 1024 * 1024


def test_too_many_files(harness: Harness) -> None:
    harness.limits = ArchiveLimits(max_files=3)
    archive = build_zip(harness.path("a.zip"), recording_files())
    error = harness.refused_before_writing(archive, ErrorCode.TOO_MANY_FILES)
    assert error.limit == 3
    assert "3" in error.message


def test_too_large(harness: Harness) -> None:
    harness.limits = ArchiveLimits(max_total_bytes=2000)
    archive = build_tar(harness.path("a.tar"), recording_files())
    error = harness.refused_before_writing(archive, ErrorCode.TOO_LARGE)
    assert error.limit == 2000


def test_a_member_that_expands_too_far_is_a_bomb(harness: Harness) -> None:
    archive = build_zip(harness.path("bomb.zip"), {f"{RID}/zeros.bin": bytes(4 * MIB)})
    assert archive.stat().st_size < 10_000

    error = harness.refused_before_writing(archive, ErrorCode.RATIO_EXCEEDED)

    assert error.member == f"{RID}/zeros.bin"
    assert error.limit == 200.0


def test_many_small_members_that_expand_too_far_together(harness: Harness) -> None:
    files = {f"{RID}/part{i:02d}.bin": bytes(900 * 1024) for i in range(20)}
    archive = build_zip(harness.path("spread.zip"), files)

    error = harness.refused_before_writing(archive, ErrorCode.RATIO_EXCEEDED)

    assert "times its size" in error.message


def test_small_compressible_files_are_fine(harness: Harness) -> None:
    files = {f"{RID}/empty.txt": b"", f"{RID}/zeros.bin": bytes(64 * 1024)}
    harness.extract(build_zip(harness.path("ok.zip"), files))
    assert harness.tree() == files


def _zero_tar(size: int) -> bytes:
    """A tar holding one file of zeros, built without keeping it in memory twice."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(f"{RID}/zeros.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(bytes(size)))
    return buffer.getvalue()


def test_a_compressed_tar_bomb_stops_while_listing(harness: Harness) -> None:
    archive = harness.path("bomb.tar.zst")
    archive.write_bytes(zstandard.ZstdCompressor().compress(_zero_tar(40 * MIB)))
    assert archive.stat().st_size < 10_000

    error = harness.refused_before_writing(archive, ErrorCode.RATIO_EXCEEDED)

    assert "decompression bomb" in error.message


def test_a_compressed_tar_larger_than_allowed_stops_while_listing(
    harness: Harness,
) -> None:
    harness.limits = ArchiveLimits(max_total_bytes=1024, max_total_ratio=1e9)
    archive = harness.path("big.tgz")
    archive.write_bytes(gzip.compress(_zero_tar(80 * MIB), compresslevel=1))
    harness.refused_before_writing(archive, ErrorCode.TOO_LARGE)


def test_a_stored_zip_is_never_a_bomb(harness: Harness) -> None:
    files = {f"{RID}/zeros.bin": bytes(2 * MIB)}
    harness.extract(build_zip(harness.path("stored.zip"), files, zipfile.ZIP_STORED))
    assert harness.tree() == files
