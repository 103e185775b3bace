"""Extraction itself: progress, cancel, a full disk, staying inside staging, verify."""

from __future__ import annotations

import os
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from signpipe_gui.backend.archive import (
    ArchiveLimits,
    Listing,
    Member,
    open_archive,
    verify_tree,
)
from signpipe_gui.backend.archive.writer import StagingWriter
from signpipe_gui.backend.errors import ErrorCode, IngestError, JobCancelled

from .conftest import RID, Harness, build_tar, build_zip, recording_files

MIB = 1024 * 1024


def many_frames(count: int = 40, size: int = 20_000) -> dict[str, bytes]:
    return {f"{RID}/camera/{i:04d}.jpg": os.urandom(size) for i in range(count)}


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz"])
def test_progress_never_goes_back_and_ends_at_the_totals(
    harness: Harness, kind: str
) -> None:
    files = {**many_frames(), f"{RID}/video.bin": os.urandom(3 * MIB)}
    archive = (
        build_zip(harness.path("a.zip"), files)
        if kind == "zip"
        else build_tar(harness.path("a.tar"), files, "w:gz" if kind == "tgz" else "w")
    )

    listing = harness.extract(archive)

    counts = [files_done for files_done, _ in harness.progress]
    done = [bytes_done for _, bytes_done in harness.progress]
    assert counts == sorted(counts)
    assert done == sorted(done)
    assert harness.progress[-1] == (listing.total_files, listing.total_bytes)


@pytest.mark.parametrize("kind", ["zip-stored", "zip", "tar", "tgz"])
def test_a_large_member_reports_between_its_chunks(harness: Harness, kind: str) -> None:
    files = {f"{RID}/video.bin": os.urandom(9 * MIB)}
    if kind.startswith("zip"):
        method = zipfile.ZIP_STORED if kind == "zip-stored" else zipfile.ZIP_DEFLATED
        archive = build_zip(harness.path("a.zip"), files, method)
    else:
        archive = build_tar(
            harness.path("a.tar"), files, "w:gz" if kind == "tgz" else "w"
        )

    harness.extract(archive)

    partial = {done for files_done, done in harness.progress if files_done == 0}
    if harness.use_spool and kind == "tgz":
        assert partial == set()  # spooled while listing; extraction only links it
    else:
        assert len(partial - {0}) >= 2


def test_cancel_before_extraction_writes_nothing(harness: Harness) -> None:
    archive = build_zip(harness.path("a.zip"), recording_files())
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(JobCancelled):
        harness.extract(archive, cancel=cancel)
    assert list(harness.staging.iterdir()) == []


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz"])
def test_cancel_mid_extraction_stops_between_members(
    harness: Harness, kind: str
) -> None:
    files = many_frames(60)
    build = build_zip if kind == "zip" else build_tar
    archive = build(harness.path(f"a.{kind}"), files)  # type: ignore[operator]
    if kind == "tgz":
        archive = build_tar(harness.path("a.tgz"), files, "w:gz")
    cancel = threading.Event()
    harness.staging.mkdir()

    def report(files_done: int, bytes_done: int) -> None:
        if files_done >= 5:
            cancel.set()

    with open_archive(archive, ArchiveLimits()) as reader:
        listing = reader.listing()
        with pytest.raises(JobCancelled) as caught:
            reader.extract(listing, harness.staging, on_progress=report, cancel=cancel)

    assert caught.value.code is ErrorCode.CANCELLED
    written = list((harness.staging / RID / "camera").iterdir())
    assert 5 <= len(written) < len(files)


def test_cancel_inside_a_large_member(harness: Harness) -> None:
    archive = build_zip(
        harness.path("big.zip"), {f"{RID}/video.bin": os.urandom(8 * MIB)}
    )
    cancel = threading.Event()

    def report(files_done: int, bytes_done: int) -> None:
        if bytes_done >= MIB:
            cancel.set()

    harness.staging.mkdir()
    with open_archive(archive, ArchiveLimits()) as reader:
        listing = reader.listing()
        with pytest.raises(JobCancelled):
            reader.extract(listing, harness.staging, on_progress=report, cancel=cancel)
    assert (harness.staging / RID / "video.bin").stat().st_size < 8 * MIB


def test_a_failing_member_stops_the_other_worker(harness: Harness) -> None:
    files = many_frames(80, 50_000)
    archive = build_zip(harness.path("a.zip"), files, zipfile.ZIP_STORED)
    blob = bytearray(archive.read_bytes())
    blob[blob.index(b"camera/0010.jpg") + 200] ^= 0xFF  # inside member 10's data
    archive.write_bytes(bytes(blob))

    error = harness.fails(archive, ErrorCode.CRC_MISMATCH)

    assert error.member == f"{RID}/camera/0010.jpg"
    assert len(list((harness.staging / RID / "camera").iterdir())) < len(files)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs), where the machine lets us mount one."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small file system here")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


@pytest.mark.parametrize("kind", ["zip", "tar", "tgz"])
def test_full_disk_is_no_space(tmp_path: Path, small_disk: Path, kind: str) -> None:
    files = {f"{RID}/video.bin": os.urandom(3 * MIB)}
    if kind == "zip":
        archive = build_zip(tmp_path / "a.zip", files)
    else:
        archive = build_tar(tmp_path / "a.tar", files, "w:gz" if kind == "tgz" else "w")

    with open_archive(archive, ArchiveLimits()) as reader:
        listing = reader.listing()
        with pytest.raises(IngestError) as caught:
            reader.extract(
                listing,
                small_disk,
                on_progress=lambda files_done, done: None,
                cancel=threading.Event(),
            )

    assert caught.value.code is ErrorCode.NO_SPACE
    assert "disk is full" in caught.value.message
    assert caught.value.member == f"{RID}/video.bin"


def test_a_symlink_planted_in_staging_is_not_followed(
    harness: Harness, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    harness.staging.mkdir()
    (harness.staging / RID).symlink_to(outside)
    archive = build_zip(harness.path("a.zip"), recording_files())

    with open_archive(archive, ArchiveLimits()) as reader:
        listing = reader.listing()
        with pytest.raises(IngestError) as caught:
            reader.extract(
                listing,
                harness.staging,
                on_progress=lambda files_done, done: None,
                cancel=threading.Event(),
            )

    assert caught.value.code is ErrorCode.WRITE_FAILED
    assert list(outside.iterdir()) == []


def test_writer_refuses_names_that_slipped_past_validation(tmp_path: Path) -> None:
    listing = Listing(RID, (Member(RID, 0, True),), 0, 0)
    writer = StagingWriter(tmp_path, listing)
    try:
        writer.create_folders()
        for bad in (f"{RID}/../escape", f"{RID}//x", f"{RID}/./x"):
            with pytest.raises(IngestError) as caught:
                writer.open_file(bad)
            assert caught.value.code is ErrorCode.PATH_ESCAPE
        fd = writer.open_file(f"{RID}/once")
        os.close(fd)
        with pytest.raises(IngestError):
            writer.open_file(f"{RID}/once")  # never overwrites
    finally:
        writer.close()
    assert sorted(p.name for p in tmp_path.rglob("*")) == [RID, "once"]


def test_extract_needs_the_readers_own_listing(harness: Harness) -> None:
    archive = build_zip(harness.path("a.zip"), recording_files())
    other = Listing(RID, (), 0, 0)
    reader = open_archive(archive, ArchiveLimits())
    with reader, pytest.raises(ValueError, match="listing"):
        reader.extract(
            other,
            harness.staging,
            on_progress=lambda f, b: None,
            cancel=threading.Event(),
        )


def test_verify_tree_accepts_the_extraction(harness: Harness) -> None:
    listing = harness.extract(build_tar(harness.path("a.tar"), recording_files()))
    assert verify_tree(harness.staging / RID, listing) == listing.total_bytes


@pytest.mark.parametrize("damage", ["missing", "extra", "resized", "folder"])
def test_verify_tree_notices_a_changed_tree(harness: Harness, damage: str) -> None:
    listing = harness.extract(build_tar(harness.path("a.tar"), recording_files()))
    root = harness.staging / RID
    if damage == "missing":
        (root / "gps.csv").unlink()
    elif damage == "extra":
        (root / "camera" / "stray.jpg").write_bytes(b"x")
    elif damage == "resized":
        (root / "gps.csv").write_bytes(b"short")
    else:
        (root / "meta.json").unlink()
        (root / "meta.json").mkdir()

    with pytest.raises(IngestError) as caught:
        verify_tree(root, listing)

    assert caught.value.code is ErrorCode.VERIFY_FAILED
    assert str(caught.value.member).startswith(RID)


def test_listing_a_compressed_tar_reports_its_reading(harness: Harness) -> None:
    files = {**many_frames(20, 100_000), f"{RID}/video.bin": os.urandom(5 * MIB)}
    archive = build_tar(harness.path("a.tgz"), files, "w:gz")
    seen: list[tuple[int, int]] = []
    spool = harness.spool if harness.use_spool else None
    harness.spool.mkdir()

    with open_archive(archive, ArchiveLimits(), spool=spool) as reader:
        reader.listing(on_progress=lambda members, read: seen.append((members, read)))
        spooled = reader.spooled_bytes  # type: ignore[attr-defined]

    assert len(seen) >= 3
    assert seen == sorted(seen)
    assert seen[-1][1] == archive.stat().st_size
    assert spooled == (sum(map(len, files.values())) if harness.use_spool else 0)
    assert list(harness.spool.iterdir()) == []
