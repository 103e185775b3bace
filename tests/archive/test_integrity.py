"""Broken and forged archives: CRCs, truncation, corruption, lying sizes, overlaps."""

from __future__ import annotations

import bz2
import lzma
import struct
import zipfile
from pathlib import Path

import pytest
import zstandard

from signpipe_gui.backend.errors import ErrorCode

from .conftest import RID, Harness, build_tar, build_zip, recording_files

FRAME = f"{RID}/camera/0000.jpg"


def _patch(path: Path, offset: int, data: bytes) -> None:
    blob = bytearray(path.read_bytes())
    blob[offset : offset + len(data)] = data
    path.write_bytes(bytes(blob))


def _entry(archive: Path, name: str) -> zipfile.ZipInfo:
    with zipfile.ZipFile(archive) as zf:
        return zf.getinfo(name)


def _central_offset(archive: Path, name: str) -> int:
    blob = archive.read_bytes()
    return blob.rindex(b"PK\x01\x02", 0, blob.rindex(name.encode()))


def _data_offset(archive: Path, info: zipfile.ZipInfo) -> int:
    header = archive.read_bytes()[info.header_offset : info.header_offset + 30]
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def test_flipped_data_byte_fails_the_crc(harness: Harness) -> None:
    archive = build_zip(harness.path("a.zip"), recording_files(), zipfile.ZIP_STORED)
    offset = _data_offset(archive, _entry(archive, FRAME)) + 10
    _patch(archive, offset, bytes([archive.read_bytes()[offset] ^ 0xFF]))

    error = harness.fails(archive, ErrorCode.CRC_MISMATCH)

    assert error.member == FRAME
    assert "CRC" in error.message


def test_wrong_crc_on_a_deflated_member(harness: Harness) -> None:
    archive = build_zip(harness.path("a.zip"), recording_files())
    info = _entry(archive, FRAME)
    for offset in (info.header_offset + 14, _central_offset(archive, FRAME) + 16):
        _patch(archive, offset, struct.pack("<I", info.CRC ^ 1))
    harness.fails(archive, ErrorCode.CRC_MISMATCH)


def _set_size(archive: Path, name: str, size: int) -> None:
    info = _entry(archive, name)
    _patch(archive, info.header_offset + 22, struct.pack("<I", size))
    _patch(archive, _central_offset(archive, name) + 24, struct.pack("<I", size))


def test_member_that_outgrows_its_declared_size_stops_the_job(harness: Harness) -> None:
    files = {f"{RID}/gps.csv": b"0,52.5,13.4\n" * 20_000}
    archive = build_zip(harness.path("liar.zip"), files)
    _set_size(archive, f"{RID}/gps.csv", 1000)

    error = harness.fails(archive, ErrorCode.SIZE_MISMATCH)

    assert error.limit == 1000
    written = harness.staging / RID / "gps.csv"
    assert written.stat().st_size <= 1000


def test_member_shorter_than_declared_is_refused(harness: Harness) -> None:
    archive = build_zip(harness.path("liar.zip"), {f"{RID}/gps.csv": b"x" * 500})
    _set_size(archive, f"{RID}/gps.csv", 600)
    harness.fails(archive, ErrorCode.SIZE_MISMATCH)


def test_stored_member_whose_sizes_disagree_is_refused(harness: Harness) -> None:
    files = {f"{RID}/gps.csv": b"x" * 500}
    archive = build_zip(harness.path("liar.zip"), files, zipfile.ZIP_STORED)
    _set_size(archive, f"{RID}/gps.csv", 400)
    harness.fails(archive, ErrorCode.SIZE_MISMATCH)


def test_overlapping_zip_entries_are_refused(harness: Harness) -> None:
    files = {f"{RID}/a.bin": b"A" * 3000, f"{RID}/b.bin": b"B" * 3000}
    archive = build_zip(harness.path("overlap.zip"), files, zipfile.ZIP_STORED)
    # Point b's directory entry at a's local header: both would read the same bytes.
    first = _entry(archive, f"{RID}/a.bin").header_offset
    _patch(
        archive, _central_offset(archive, f"{RID}/b.bin") + 42, struct.pack("<I", first)
    )

    error = harness.refused_before_writing(archive, ErrorCode.OVERLAPPING_ENTRIES)

    assert "overlapping" in error.message


def test_local_header_naming_another_file_is_corrupt(harness: Harness) -> None:
    archive = build_zip(harness.path("a.zip"), recording_files(), zipfile.ZIP_STORED)
    info = _entry(archive, FRAME)
    _patch(archive, info.header_offset + 30 + len(FRAME) - 5, b"X")
    harness.refused_before_writing(archive, ErrorCode.CORRUPT)


def test_zip_without_its_central_directory_is_truncated(harness: Harness) -> None:
    archive = build_zip(harness.path("a.zip"), recording_files())
    archive.write_bytes(archive.read_bytes()[:-300])
    error = harness.refused_before_writing(archive, ErrorCode.TRUNCATED)
    assert "truncated" in error.message


def test_zip_with_damaged_directory_is_corrupt(harness: Harness) -> None:
    archive = build_zip(harness.path("a.zip"), recording_files())
    _patch(archive, _central_offset(archive, FRAME), b"XXXX")
    harness.refused_before_writing(archive, ErrorCode.CORRUPT)


def test_damaged_deflate_stream_is_corrupt(harness: Harness) -> None:
    files = {f"{RID}/gps.csv": b"".join(b"%d,52.5,13.4\n" % i for i in range(20_000))}
    archive = build_zip(harness.path("a.zip"), files)
    offset = _data_offset(archive, _entry(archive, f"{RID}/gps.csv"))
    _patch(archive, offset, b"\xff" * 16)
    harness.fails(archive, ErrorCode.CORRUPT)


def test_tar_cut_inside_a_member_is_truncated(harness: Harness) -> None:
    archive = build_tar(harness.path("a.tar"), recording_files())
    blob = archive.read_bytes()
    archive.write_bytes(blob[: blob.index(b"0,52.5") + 100])
    harness.refused_before_writing(archive, ErrorCode.TRUNCATED)


def test_tar_cut_inside_a_header_is_truncated(harness: Harness) -> None:
    archive = build_tar(harness.path("a.tar"), recording_files())
    archive.write_bytes(archive.read_bytes()[: 1024 + 200])
    harness.refused_before_writing(archive, ErrorCode.TRUNCATED)


def test_tar_header_with_bad_checksum_is_corrupt(harness: Harness) -> None:
    archive = build_tar(harness.path("a.tar"), recording_files())
    blob = archive.read_bytes()
    header = blob.index(FRAME.encode())
    _patch(archive, header + 2, b"9")
    harness.refused_before_writing(archive, ErrorCode.CORRUPT)


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_cut_compressed_tar_is_truncated(harness: Harness, mode: str) -> None:
    archive = build_tar(harness.path("a.tar.x"), recording_files(), mode)
    blob = archive.read_bytes()
    archive.write_bytes(blob[: len(blob) - 30])
    harness.refused_before_writing(archive, ErrorCode.TRUNCATED)


def test_cut_zstd_tar_is_truncated(harness: Harness) -> None:
    plain = build_tar(harness.path("a.tar"), recording_files()).read_bytes()
    archive = harness.path("a.tar.zst")
    blob = zstandard.ZstdCompressor(write_checksum=True).compress(plain)
    archive.write_bytes(blob[:-3])
    harness.refused_before_writing(archive, ErrorCode.TRUNCATED)


def test_gzip_trailer_crc_is_checked(harness: Harness) -> None:
    archive = build_tar(harness.path("a.tgz"), recording_files(), "w:gz")
    blob = bytearray(archive.read_bytes())
    blob[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    archive.write_bytes(bytes(blob))
    harness.refused_before_writing(archive, ErrorCode.CRC_MISMATCH)


@pytest.mark.parametrize(
    ("compress", "start"),
    [
        (bz2.compress, 10),  # just past the block magic
        (lzma.compress, 40),  # inside the first block's data
        (lambda data: zstandard.ZstdCompressor().compress(data), 20),
    ],
)
def test_damaged_compressed_tar_is_corrupt(
    harness: Harness, compress: object, start: int
) -> None:
    plain = build_tar(harness.path("a.tar"), recording_files()).read_bytes()
    blob = bytearray(compress(plain))  # type: ignore[operator]
    blob[start : start + 16] = b"\xa5" * 16
    archive = harness.path("bad.tar.c")
    archive.write_bytes(bytes(blob))
    error = harness.fails(archive, ErrorCode.CORRUPT)
    assert "damaged" in error.message


def test_trailing_garbage_after_gzip_is_corrupt(harness: Harness) -> None:
    archive = build_tar(harness.path("a.tgz"), recording_files(), "w:gz")
    archive.write_bytes(archive.read_bytes() + b"garbage after the stream")
    harness.refused_before_writing(archive, ErrorCode.CORRUPT)


def test_zero_padding_after_gzip_is_tolerated(harness: Harness) -> None:
    archive = build_tar(harness.path("a.tgz"), recording_files(), "w:gz")
    archive.write_bytes(archive.read_bytes() + bytes(4096))
    harness.extract(archive)
    assert harness.tree() == recording_files()
