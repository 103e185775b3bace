"""Member names: escapes, bad characters, separators, encodings, duplicates."""

from __future__ import annotations

import struct
import tarfile
import unicodedata
import zipfile
import zlib
from pathlib import Path

import pytest

from signpipe_gui.backend.archive.names import decode_names
from signpipe_gui.backend.errors import ErrorCode

from .conftest import RID, Harness, build_tar, build_zip, recording_files


def raw_zip(
    path: Path, entries: list[tuple[bytes, bytes]], *, utf8: bool = False
) -> Path:
    """A zip whose names are exactly these bytes (zipfile would re-encode them)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for index, (name, data) in enumerate(entries):
            archive.writestr(_placeholder(index, len(name)), data)
    blob = path.read_bytes()
    for index, (name, _) in enumerate(entries):
        # Same length, so every offset in the archive stays right.
        blob = blob.replace(_placeholder(index, len(name)).encode(), name)
    if utf8:
        blob = _set_utf8_flags(blob)
    path.write_bytes(blob)
    return path


def _placeholder(index: int, length: int) -> str:
    return (f"#{index:03d}" + "q" * length)[:length]


def _set_utf8_flags(blob: bytes) -> bytes:
    data = bytearray(blob)
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            flags = struct.unpack_from("<H", data, start + flag_at)[0]
            struct.pack_into("<H", data, start + flag_at, flags | 0x800)
            start += 4
    return bytes(data)


@pytest.mark.parametrize(
    "bad",
    [f"{RID}/../../evil.txt", f"/{RID}/evil.txt", f"C:/{RID}/evil.txt", "../x"],
)
@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_names_that_escape_are_refused(harness: Harness, kind: str, bad: str) -> None:
    files = {**recording_files(), bad: b"pwned"}
    build = build_zip if kind == "zip" else build_tar
    archive = build(harness.path(f"a.{kind}"), files)

    harness.refused_before_writing(archive, ErrorCode.PATH_ESCAPE)


def test_backslash_dot_dot_in_a_zip_is_an_escape(harness: Harness) -> None:
    archive = build_zip(harness.path("a.zip"), {f"{RID}\\..\\..\\evil": b"x"})
    harness.refused_before_writing(archive, ErrorCode.PATH_ESCAPE)


@pytest.mark.parametrize("char", ["\x01", "\x1b", "\x7f", "\n"])
def test_control_characters_are_bad_names(harness: Harness, char: str) -> None:
    archive = build_tar(harness.path("a.tar"), {f"{RID}/bad{char}name": b"x"})
    error = harness.refused_before_writing(archive, ErrorCode.BAD_NAME)
    assert "control character" in error.message


def test_nul_in_a_zip_name_is_a_bad_name(harness: Harness) -> None:
    name = f"{RID}/a\x00b.jpg".encode()
    archive = raw_zip(harness.path("nul.zip"), [(name, b"x")])
    harness.refused_before_writing(archive, ErrorCode.BAD_NAME)


def test_overlong_name_is_a_bad_name(harness: Harness) -> None:
    archive = build_tar(harness.path("a.tar"), {f"{RID}/{'x' * 300}": b"x"})
    harness.refused_before_writing(archive, ErrorCode.BAD_NAME)


def test_windows_backslashes_are_folders(harness: Harness) -> None:
    files = {f"{RID}\\camera\\0001.jpg": b"frame", f"{RID}\\gps.csv": b"gps"}
    archive = build_zip(harness.path("windows.zip"), files)

    harness.extract(archive)

    assert harness.tree() == {
        f"{RID}/camera/0001.jpg": b"frame",
        f"{RID}/gps.csv": b"gps",
    }


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("Straße_müde", "cp437"), ("Überführung", "cp850"), ("Дорога", "cp866"),
     ("café_façade", "cp1252"), ("標識", "cp932")],
)  # fmt: skip
def test_legacy_code_pages_are_detected(
    harness: Harness, text: str, encoding: str
) -> None:
    names = [
        f"{RID}/".encode() + text.encode(encoding) + b".jpg",
        f"{RID}/gps.csv".encode(),
    ]
    archive = raw_zip(harness.path("legacy.zip"), [(n, b"sign") for n in names])

    harness.extract(archive)

    assert harness.tree() == {f"{RID}/{text}.jpg": b"sign", f"{RID}/gps.csv": b"sign"}


def test_utf8_names_without_the_flag_are_read_as_utf8(harness: Harness) -> None:
    archive = raw_zip(harness.path("mac.zip"), [(f"{RID}/Ampel_grün".encode(), b"x")])
    harness.extract(archive)
    assert list(harness.tree()) == [f"{RID}/Ampel_grün"]


def test_flagged_utf8_names_are_read_as_utf8(harness: Harness) -> None:
    name = f"{RID}/Schild_☃".encode()
    archive = raw_zip(harness.path("flag.zip"), [(name, b"x")], utf8=True)
    harness.extract(archive)
    assert list(harness.tree()) == [f"{RID}/Schild_☃"]


def test_unicode_path_extra_field_wins(harness: Harness) -> None:
    archive = harness.path("extra.zip")
    legacy = b"Stra_e.txt"
    wanted = f"{RID}/Straße.txt".encode()
    extra = struct.pack("<BI", 1, zlib.crc32(legacy)) + wanted
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo(legacy.decode())
        info.extra = struct.pack("<HH", 0x7075, len(extra)) + extra
        zf.writestr(info, b"x")

    harness.extract(archive)

    assert list(harness.tree()) == [f"{RID}/Straße.txt"]


def test_decomposed_mac_names_become_nfc(harness: Harness) -> None:
    decomposed = unicodedata.normalize("NFD", f"{RID}/Kreuzung_ö.jpg")
    archive = build_zip(harness.path("nfd.zip"), {decomposed: b"x"})

    listing = harness.extract(archive)

    nfc = unicodedata.normalize("NFC", decomposed)
    assert [m.name for m in listing.members if not m.is_dir] == [nfc]
    assert harness.tree() == {nfc: b"x"}


def test_nfd_and_nfc_spellings_of_one_name_are_duplicates(harness: Harness) -> None:
    name = f"{RID}/Kreuzung_ö.jpg"
    files = {
        unicodedata.normalize("NFD", name): b"a",
        unicodedata.normalize("NFC", name): b"b",
    }
    archive = build_zip(harness.path("dup.zip"), files)
    harness.refused_before_writing(archive, ErrorCode.DUPLICATE_NAME)


def test_duplicate_names_are_refused(harness: Harness) -> None:
    archive = harness.path("dup.tar")
    build_tar(archive, recording_files())
    with tarfile.open(archive, "a") as tar:
        info = tarfile.TarInfo(f"{RID}/gps.csv")
        info.size = 0
        tar.addfile(info)
    error = harness.refused_before_writing(archive, ErrorCode.DUPLICATE_NAME)
    assert error.member == f"{RID}/gps.csv"


def test_names_differing_only_in_case_collide(harness: Harness) -> None:
    files = {f"{RID}/Camera/1.jpg": b"a", f"{RID}/camera/2.jpg": b"b"}
    archive = build_zip(harness.path("case.zip"), files)
    error = harness.refused_before_writing(archive, ErrorCode.NAME_COLLISION)
    assert "case" in error.message


def test_a_name_used_as_file_and_folder_collides(harness: Harness) -> None:
    files = {f"{RID}/camera": b"a", f"{RID}/camera/1.jpg": b"b"}
    archive = build_tar(harness.path("clash.tar"), files)
    harness.refused_before_writing(archive, ErrorCode.NAME_COLLISION)


def test_decode_names_prefers_utf8_then_guesses_once_per_archive() -> None:
    assert decode_names([b"plain"]) == (["plain"], "ascii")
    assert decode_names(["grün".encode()])[1] == "utf-8"
    names, codepage = decode_names(["Дорога".encode("cp866"), b"ok"])
    assert (names, codepage) == (["Дорога", "ok"], "cp866")
