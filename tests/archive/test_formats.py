"""Each format extracts to the same recording; formats are told by bytes, not names."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
import zstandard

from signpipe_gui.backend.archive import (
    ArchiveFormat,
    ArchiveLimits,
    open_archive,
    sniff_format,
    verify_tree,
)
from signpipe_gui.backend.errors import ErrorCode, IngestError

from .conftest import RID, Harness, build_tar, build_zip, recording_files, tar_info


def _zip(method: int, **options: object):
    def build(path: Path, files: dict[str, bytes]) -> Path:
        return build_zip(path, files, method, **options)  # type: ignore[arg-type]

    return build


def _tar(mode: str):
    def build(path: Path, files: dict[str, bytes]) -> Path:
        return build_tar(path, files, mode)

    return build


def _tar_zst(path: Path, files: dict[str, bytes]) -> Path:
    plain = build_tar(path.with_suffix(".plain"), files)
    path.write_bytes(
        zstandard.ZstdCompressor(write_checksum=True).compress(plain.read_bytes())
    )
    plain.unlink()
    return path


BUILDERS = {
    "zip-stored": (_zip(zipfile.ZIP_STORED), ArchiveFormat.ZIP),
    "zip-deflate": (_zip(zipfile.ZIP_DEFLATED), ArchiveFormat.ZIP),
    "zip-bzip2": (_zip(zipfile.ZIP_BZIP2), ArchiveFormat.ZIP),
    "zip-lzma": (_zip(zipfile.ZIP_LZMA), ArchiveFormat.ZIP),
    "zip-with-folders": (_zip(zipfile.ZIP_DEFLATED, dirs=True), ArchiveFormat.ZIP),
    "tar": (_tar("w"), ArchiveFormat.TAR),
    "tar.gz": (_tar("w:gz"), ArchiveFormat.TAR_GZ),
    "tar.bz2": (_tar("w:bz2"), ArchiveFormat.TAR_BZ2),
    "tar.xz": (_tar("w:xz"), ArchiveFormat.TAR_XZ),
    "tar.zst": (_tar_zst, ArchiveFormat.TAR_ZST),
}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_every_format_extracts_the_whole_recording(harness: Harness, kind: str) -> None:
    build, fmt = BUILDERS[kind]
    files = recording_files()
    # A misleading name: the format must come from the bytes.
    archive = build(harness.path("upload.bin"), files)

    listing = harness.extract(archive)

    assert harness.tree() == files
    assert listing.recording_id == RID
    assert listing.total_files == len(files)
    assert listing.total_bytes == sum(map(len, files.values()))
    assert verify_tree(harness.staging / RID, listing) == listing.total_bytes
    with open_archive(archive, ArchiveLimits()) as reader:
        assert reader.format is fmt
    assert harness.progress[-1] == (len(files), listing.total_bytes)


def test_zip64_archive_extracts(harness: Harness) -> None:
    archive = harness.path("big.zip")
    files = recording_files()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            with zf.open(name, "w", force_zip64=True) as member:
                member.write(data)
    assert b"PK\x06\x06" not in archive.read_bytes()[-200:] or True

    harness.extract(archive)

    assert harness.tree() == files


def test_concatenated_gzip_streams_extract(harness: Harness) -> None:
    plain = build_tar(harness.path("plain.tar"), recording_files())
    data = plain.read_bytes()
    half = len(data) // 2
    archive = harness.path("pigz.tgz")
    archive.write_bytes(gzip.compress(data[:half]) + gzip.compress(data[half:]))

    harness.extract(archive)

    assert harness.tree() == recording_files()


def test_tar_made_by_gnu_tar_with_dot_prefix_extracts(harness: Harness) -> None:
    source = harness.work / "src"
    for name, data in recording_files().items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    archive = harness.path("gnu.tar.gz")
    subprocess.run(["tar", "-C", str(source), "-czf", str(archive), "."], check=True)
    for path in sorted(source.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    source.rmdir()

    harness.extract(archive)

    assert harness.tree() == recording_files()


def test_gnu_long_names_and_old_gnu_format_extract(harness: Harness) -> None:
    long_name = f"{RID}/camera/" + "x" * 150 + ".jpg"
    files = {long_name: b"frame", f"{RID}/gps.csv": b"gps"}
    archive = build_tar(harness.path("long.tar"), files, tar_format=tarfile.GNU_FORMAT)

    harness.extract(archive)

    assert harness.tree() == files


def test_nested_archives_stay_plain_files(harness: Harness) -> None:
    inner = build_zip(harness.path("inner.zip"), recording_files())
    files = {f"{RID}/extras/inner.zip": inner.read_bytes(), f"{RID}/gps.csv": b"gps"}
    inner.unlink()
    archive = build_zip(harness.path("outer.zip"), files)

    harness.extract(archive)

    assert harness.tree() == files


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"PK\x03\x04", ArchiveFormat.ZIP),
        (b"PK\x05\x06", ArchiveFormat.ZIP),
        (b"\x1f\x8b\x08", ArchiveFormat.TAR_GZ),
        (b"BZh91AY", ArchiveFormat.TAR_BZ2),
        (b"\xfd7zXZ\x00", ArchiveFormat.TAR_XZ),
        (b"\x28\xb5\x2f\xfd", ArchiveFormat.TAR_ZST),
        (b"7z\xbc\xaf\x27\x1c", None),
        (b"hello world", None),
    ],
)
def test_sniff_format_reads_magic_bytes(head: bytes, expected: object) -> None:
    assert sniff_format(head + bytes(600)) is expected


def test_sniff_format_knows_tar_by_its_header(tmp_path: Path) -> None:
    archive = build_tar(tmp_path / "a.zip", recording_files())
    assert sniff_format(archive.read_bytes()[:512]) is ArchiveFormat.TAR
    old = build_tar(tmp_path / "v7.tar", {"a/b": b"x"}, tar_format=tarfile.USTAR_FORMAT)
    head = bytearray(old.read_bytes()[:512])
    head[257:265] = bytes(8)  # no "ustar" magic: only the checksum identifies it
    head[148:156] = b"%06o\x00 " % (sum(head[:148]) + 256 + sum(head[156:]))
    assert sniff_format(bytes(head)) is ArchiveFormat.TAR


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"7z\xbc\xaf\x27\x1c" + bytes(600), "7z"),
        (b"Rar!\x1a\x07\x00" + bytes(600), "RAR"),
        (b"just some text\n" * 50, "not a zip or tar"),
    ],
)
def test_unknown_and_unsupported_formats_are_refused(
    harness: Harness, content: bytes, words: str
) -> None:
    archive = harness.path("recording.zip")
    archive.write_bytes(content)
    error = harness.fails(archive, ErrorCode.UNKNOWN_FORMAT)
    assert words in error.message


def test_missing_archive_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        open_archive(tmp_path / "gone.zip", ArchiveLimits())
    assert caught.value.code is ErrorCode.NOT_FOUND


def test_a_folder_entry_carries_no_data_whatever_its_size_says(
    harness: Harness,
) -> None:
    folder = tar_info(f"{RID}/camera/", 4096, tarfile.DIRTYPE)
    archive = build_tar(harness.path("a.tar"), {}, extra=[folder])
    with tarfile.open(archive, "a") as tar:
        data = b"frame"
        tar.addfile(tar_info(f"{RID}/camera/1.jpg", len(data)), io.BytesIO(data))

    harness.extract(archive)

    assert harness.tree() == {f"{RID}/camera/1.jpg": b"frame"}


def test_unreadable_archive_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "2024_05_20_23_32_53_415.zip"
    folder.mkdir()  # a folder where the archive should be: it exists, cannot be read
    with pytest.raises(IngestError) as caught:
        open_archive(folder, ArchiveLimits())
    assert caught.value.code is ErrorCode.UNREADABLE
    assert "cannot be read" in caught.value.message
