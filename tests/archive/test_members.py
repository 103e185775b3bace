"""Only regular files and folders: links, devices, FIFOs and encryption are refused."""

from __future__ import annotations

import stat
import tarfile
import zipfile

import pytest

from signpipe_gui.backend.errors import ErrorCode

from .conftest import RID, Harness, build_tar, build_zip, recording_files, tar_info


def _tar_with(harness: Harness, info: tarfile.TarInfo) -> object:
    return build_tar(harness.path("a.tar"), recording_files(), extra=[info])


def test_tar_symlink_is_refused(harness: Harness) -> None:
    link = tar_info(f"{RID}/passwd", kind=tarfile.SYMTYPE)
    link.linkname = "/etc/passwd"
    error = harness.refused_before_writing(
        _tar_with(harness, link), ErrorCode.LINK_MEMBER
    )
    assert "symbolic link" in error.message
    assert error.member == f"{RID}/passwd"


def test_tar_hardlink_is_refused(harness: Harness) -> None:
    link = tar_info(f"{RID}/copy.csv", kind=tarfile.LNKTYPE)
    link.linkname = f"{RID}/gps.csv"
    error = harness.refused_before_writing(
        _tar_with(harness, link), ErrorCode.LINK_MEMBER
    )
    assert "hard link" in error.message


@pytest.mark.parametrize(
    ("kind", "words"),
    [(tarfile.CHRTYPE, "character device"), (tarfile.BLKTYPE, "block device"),
     (tarfile.FIFOTYPE, "FIFO")],
)  # fmt: skip
def test_tar_devices_and_fifos_are_refused(
    harness: Harness, kind: bytes, words: str
) -> None:
    error = harness.refused_before_writing(
        _tar_with(harness, tar_info(f"{RID}/dev", kind=kind)), ErrorCode.SPECIAL_MEMBER
    )
    assert words in error.message


def _zip_with_mode(harness: Harness, mode: int) -> object:
    archive = build_zip(harness.path("a.zip"), recording_files())
    with zipfile.ZipFile(archive, "a") as zf:
        info = zipfile.ZipInfo(f"{RID}/special")
        info.create_system = 3
        info.external_attr = mode << 16
        zf.writestr(info, b"/etc/passwd")
    return archive


def test_zip_unix_symlink_is_refused(harness: Harness) -> None:
    archive = _zip_with_mode(harness, stat.S_IFLNK | 0o777)
    harness.refused_before_writing(archive, ErrorCode.LINK_MEMBER)


def test_zip_unix_fifo_is_refused(harness: Harness) -> None:
    archive = _zip_with_mode(harness, stat.S_IFIFO | 0o644)
    harness.refused_before_writing(archive, ErrorCode.SPECIAL_MEMBER)


def test_a_symlink_among_clutter_is_ignored_like_the_clutter(harness: Harness) -> None:
    link = tar_info(f"{RID}/._gps.csv", kind=tarfile.SYMTYPE)
    link.linkname = "/etc/passwd"
    harness.extract(_tar_with(harness, link))
    assert harness.tree() == recording_files()


def test_encrypted_zip_member_is_refused_in_words(harness: Harness) -> None:
    archive = build_zip(
        harness.path("secret.zip"), recording_files(), zipfile.ZIP_STORED
    )
    data = bytearray(archive.read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        position = data.find(signature)
        data[position + flag_at] |= 0x01  # "encrypted" on the first member
    archive.write_bytes(bytes(data))

    error = harness.refused_before_writing(archive, ErrorCode.ENCRYPTED)

    assert "encrypted" in error.message
    assert "password" in error.message


def test_unsupported_zip_method_is_refused(harness: Harness) -> None:
    archive = build_zip(harness.path("d64.zip"), recording_files(), zipfile.ZIP_STORED)
    data = bytearray(archive.read_bytes())
    for signature, method_at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        position = data.find(signature)
        data[position + method_at] = 9  # deflate64
    archive.write_bytes(bytes(data))

    error = harness.refused_before_writing(archive, ErrorCode.UNSUPPORTED_COMPRESSION)
    assert "method 9" in error.message


def test_sparse_tar_member_is_refused(harness: Harness) -> None:
    info = tar_info(f"{RID}/sparse.bin", kind=tarfile.GNUTYPE_SPARSE)
    archive = build_tar(
        harness.path("s.tar"),
        recording_files(),
        extra=[info],
        tar_format=tarfile.GNU_FORMAT,
    )
    error = harness.refused_before_writing(archive, ErrorCode.SPECIAL_MEMBER)
    assert "sparse" in error.message
