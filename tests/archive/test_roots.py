"""The recording folder: exactly one valid root, or the archive's own name."""

from __future__ import annotations

import pytest

from signpipe_gui.backend.archive import ArchiveLimits
from signpipe_gui.backend.archive.listing import archive_stem
from signpipe_gui.backend.errors import ErrorCode

from .conftest import RID, Harness, build_tar, build_zip, recording_files

CLUTTER = {
    f"__MACOSX/{RID}/._gps.csv": b"apple double",
    f"{RID}/.DS_Store": b"finder",
    f"{RID}/camera/._0001.jpg": b"apple double",
    f"{RID}/camera/Thumbs.db": b"explorer",
    f"{RID}/Desktop.ini": b"explorer",
}


def test_root_is_found_without_folder_entries(harness: Harness) -> None:
    archive = build_zip(harness.path("a.zip"), recording_files(), dirs=False)
    listing = harness.extract(archive)
    assert listing.recording_id == RID
    folders = [m.name for m in listing.members if m.is_dir]
    assert folders == [RID, f"{RID}/camera"]


def test_os_clutter_is_neither_counted_nor_extracted(harness: Harness) -> None:
    archive = build_zip(harness.path("mac.zip"), {**recording_files(), **CLUTTER})

    listing = harness.extract(archive)

    assert harness.tree() == recording_files()
    assert listing.total_files == len(recording_files())
    assert not any("DS_Store" in m.name or "MACOSX" in m.name for m in listing.members)


def test_an_archive_of_only_clutter_is_empty(harness: Harness) -> None:
    archive = build_zip(harness.path("junk.zip"), CLUTTER)
    harness.refused_before_writing(archive, ErrorCode.EMPTY)


def test_files_without_root_go_under_the_archive_name(harness: Harness) -> None:
    files = {"camera/0001.jpg": b"frame", "gps.csv": b"gps"}
    archive = build_tar(harness.path("upload.tmp"), files)

    listing = harness.extract(archive, archive_name=f"{RID}.tar.gz")

    assert listing.recording_id == RID
    assert harness.tree() == {
        f"{RID}/camera/0001.jpg": b"frame",
        f"{RID}/gps.csv": b"gps",
    }


def test_files_without_root_and_a_plain_archive_name_are_refused(
    harness: Harness,
) -> None:
    archive = build_zip(
        harness.path("drive.zip"), {"gps.csv": b"gps", "cam/1.jpg": b"x"}
    )
    error = harness.refused_before_writing(archive, ErrorCode.NO_ROOT)
    assert error.member == "gps.csv"


def test_several_roots_are_refused(harness: Harness) -> None:
    other = "2024_05_21_08_00_00_000"
    files = {**recording_files(), **recording_files(other)}
    archive = build_zip(harness.path("two.zip"), files)
    error = harness.refused_before_writing(
        archive, ErrorCode.MULTIPLE_ROOTS, archive_name=f"{RID}.zip"
    )
    assert other in error.message


def test_several_folders_without_a_recording_id_are_refused(harness: Harness) -> None:
    archive = build_zip(harness.path("two.zip"), {"a/1": b"1", "b/2": b"2"})
    harness.refused_before_writing(archive, ErrorCode.MULTIPLE_ROOTS)


@pytest.mark.parametrize(
    "root",
    [
        "recording",
        "2024_13_20_23_32_53_415",
        "2024_05_20_23_32_53",
        "2024_02_30_00_00_00_000",
    ],
)
def test_root_must_be_a_valid_recording_id(harness: Harness, root: str) -> None:
    archive = build_tar(harness.path("a.tar"), recording_files(root))
    error = harness.refused_before_writing(archive, ErrorCode.INVALID_RECORDING_ID)
    assert error.member == root


def test_recording_id_pattern_is_configurable(harness: Harness) -> None:
    harness.limits = ArchiveLimits(recording_id_pattern=r"drive-\d+")
    archive = build_zip(harness.path("a.zip"), recording_files("drive-42"))
    assert harness.extract(archive).recording_id == "drive-42"


def test_a_root_holding_only_folders_is_extracted(harness: Harness) -> None:
    archive = build_zip(harness.path("a.zip"), {f"{RID}/camera/": b""})
    listing = harness.extract(archive)
    assert listing.total_files == 0
    assert (harness.staging / RID / "camera").is_dir()


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        (f"{RID}.zip", RID),
        (f"{RID}.tar.gz", RID),
        (f"{RID}.TGZ", RID),
        (f"C:\\drive\\{RID}.tar.zst", RID),
        ("a.b.zip", "a.b"),
        (".zip", ".zip"),
    ],
)
def test_archive_stem_strips_archive_extensions(name: str, stem: str) -> None:
    assert archive_stem(name) == stem
