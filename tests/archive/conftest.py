"""Archives built in code, and a harness that extracts them and checks the aftermath.

Every extraction through the harness asserts afterwards, pass or fail, that nothing
was written outside the staging folder and that the archive is byte-identical.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from signpipe_gui.backend.archive import ArchiveLimits, Listing, open_archive
from signpipe_gui.backend.errors import ErrorCode, IngestError

RID = "2024_05_20_23_32_53_415"


def recording_files(root: str = RID) -> dict[str, bytes]:
    """A small recording: a few frames, a GPS track and metadata."""
    files = {f"{root}/camera/{i:04d}.jpg": bytes([i]) * (900 + i) for i in range(5)}
    files[f"{root}/gps.csv"] = b"t,lat,lon\n" + b"0,52.5,13.4\n" * 50
    files[f"{root}/meta.json"] = b'{"vehicle": "test"}'
    return files


def build_zip(
    path: Path,
    files: dict[str, bytes],
    method: int = zipfile.ZIP_DEFLATED,
    *,
    dirs: bool = False,
) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        if dirs:
            for folder in sorted(
                {n.rsplit("/", 1)[0] + "/" for n in files if "/" in n}
            ):
                archive.writestr(folder, b"")
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def tar_info(
    name: str, size: int = 0, kind: bytes = tarfile.REGTYPE
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mode = 0o644
    return info


def build_tar(
    path: Path,
    files: dict[str, bytes],
    mode: str = "w",
    *,
    extra: list[tarfile.TarInfo] | None = None,
    tar_format: int = tarfile.PAX_FORMAT,
) -> Path:
    with tarfile.open(path, mode, format=tar_format) as archive:
        for name, data in files.items():
            archive.addfile(tar_info(name, len(data)), io.BytesIO(data))
        for info in extra or []:
            archive.addfile(info)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, str]]:
    """Every path under root (except skip) with its size and content hash."""
    found: dict[str, tuple[int, str]] = {}
    for folder, dirnames, filenames in os.walk(root):
        if Path(folder) == skip or skip in Path(folder).parents:
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            path = Path(folder) / name
            if path == skip:
                continue
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found[str(path)] = (len(data), hashlib.sha256(data).hexdigest())
            else:
                found[str(path)] = (-1, os.readlink(path) if path.is_symlink() else "")
    return found


@dataclass
class Harness:
    """Extracts archives from a work folder into its staging folder."""

    work: Path
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    progress: list[tuple[int, int]] = field(default_factory=list)
    use_spool: bool = False

    @property
    def spool(self) -> Path:
        return self.work / "spool"

    @property
    def staging(self) -> Path:
        return self.work / "staging"

    def path(self, name: str) -> Path:
        return self.work / name

    def extract(
        self,
        archive: Path,
        *,
        archive_name: str | None = None,
        cancel: threading.Event | None = None,
    ) -> Listing:
        """List and extract; afterwards check the archive and the world outside."""
        self.staging.mkdir(exist_ok=True)
        self.spool.mkdir(exist_ok=True)
        before = snapshot(self.work.parent, self.staging)
        digest = sha256(archive)
        spool = self.spool if self.use_spool else None
        try:
            with open_archive(
                archive, self.limits, archive_name=archive_name, spool=spool
            ) as reader:
                listing = reader.listing()
                reader.extract(
                    listing,
                    self.staging,
                    on_progress=lambda files, done: self.progress.append((files, done)),
                    cancel=cancel or threading.Event(),
                )
            return listing
        finally:
            # The spool folder is emptied on close, pass or fail.
            assert snapshot(self.work.parent, self.staging) == before
            assert sha256(archive) == digest

    def fails(
        self, archive: Path, code: ErrorCode, *, archive_name: str | None = None
    ) -> IngestError:
        """Extraction must fail with ``code``, with a one-line message naming it."""
        with pytest.raises(IngestError) as caught:
            self.extract(archive, archive_name=archive_name)
        error = caught.value
        assert error.code is code, f"{error.code}: {error.message}"
        assert "\n" not in error.message
        assert error.message.endswith(".")
        assert error.details["code"] == code.value
        return error

    def refused_before_writing(
        self, archive: Path, code: ErrorCode, *, archive_name: str | None = None
    ) -> IngestError:
        """Like fails(), and the staging folder stayed empty."""
        error = self.fails(archive, code, archive_name=archive_name)
        assert list(self.staging.iterdir()) == []
        return error

    def tree(self) -> dict[str, bytes]:
        """Every file extracted, by name relative to staging."""
        return {
            str(p.relative_to(self.staging)): p.read_bytes()
            for p in sorted(self.staging.rglob("*"))
            if p.is_file()
        }


@pytest.fixture(params=[False, True], ids=["", "spool"])
def harness(tmp_path: Path, request: pytest.FixtureRequest) -> Harness:
    """A harness; tests run twice, reading compressed tars twice or spooling once."""
    work = tmp_path / "work"
    work.mkdir()
    return Harness(work, use_spool=request.param)
