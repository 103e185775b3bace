"""The recordings store: finished recordings, plus spool and staging on the same disk.

Layout::

    <store>/<recording_id>/            a whole recording (never half-made)
    <store>/.signpipe/spool/<job_id>/  the copied archive, kept for Retry
    <store>/.signpipe/staging/<job_id>/ where a job extracts before the final rename

Spool and staging live inside the store so that the final move is one ``rename`` on
one file system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

WORK_DIR_NAME = ".signpipe"

_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


class RecordingExistsError(FileExistsError):
    """The store already holds a recording of that id."""


class RecordingStore:
    """Paths and atomic moves in one recordings store."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def work_dir(self) -> Path:
        return self.root / WORK_DIR_NAME

    def ensure(self) -> None:
        for folder in (self.root, self.spool_root, self.staging_root):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def spool_root(self) -> Path:
        return self.work_dir / "spool"

    @property
    def staging_root(self) -> Path:
        return self.work_dir / "staging"

    def recording_path(self, recording_id: str) -> Path:
        return self.root / recording_id

    def has_recording(self, recording_id: str) -> bool:
        return os.path.lexists(self.recording_path(recording_id))

    def recording_ids(self) -> list[str]:
        """Every recording in the store, sorted, work folders left out."""
        if not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in os.scandir(self.root)
            if entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".")
        )

    def spool_dir(self, job_id: str) -> Path:
        return self.spool_root / job_id

    def staging_dir(self, job_id: str) -> Path:
        return self.staging_root / job_id

    def new_staging_dir(self, job_id: str) -> Path:
        """A fresh, empty staging folder for the job (an old one is removed first)."""
        staging = self.staging_dir(job_id)
        remove_tree(staging)
        staging.mkdir(parents=True)
        return staging

    def publish(self, staged: Path, recording_id: str) -> Path:
        """Move a staged recording into place with one rename that never replaces."""
        target = self.recording_path(recording_id)
        rename_noreplace(staged, target)
        logger.info("Recording %s moved into the store", recording_id)
        return target

    def free_bytes(self) -> int:
        folder = self.root if self.root.exists() else self.root.parent
        return shutil.disk_usage(folder).free

    def remove_job_files(self, job_id: str, *, keep_spool: bool = False) -> None:
        """Remove a job's staging folder, and its spool copy unless it is kept."""
        remove_tree(self.staging_dir(job_id))
        if not keep_spool:
            remove_tree(self.spool_dir(job_id))


def remove_tree(path: Path) -> None:
    """Remove a folder and everything in it, if it is there."""
    if os.path.islink(path):
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, ignore_errors=False)


def rename_noreplace(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``; fail with RecordingExistsError if it exists.

    A plain ``os.rename`` of a folder silently replaces an empty folder at the target,
    so on Linux this uses ``renameat2(RENAME_NOREPLACE)``, which the kernel checks
    atomically. Elsewhere the check and the rename are two steps; the Redis claim on
    the recording id is what keeps two workstations apart there.
    """
    if _renameat2 is not None:
        result = _renameat2(
            _AT_FDCWD,
            os.fsencode(source),
            _AT_FDCWD,
            os.fsencode(target),
            _RENAME_NOREPLACE,
        )
        if result == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise RecordingExistsError(
                errno.EEXIST, "Recording already exists", str(target)
            )
        if err not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(err, os.strerror(err), str(source))

    if os.path.lexists(target):
        raise RecordingExistsError(
            errno.EEXIST, "Recording already exists", str(target)
        )
    os.rename(source, target)


def _load_renameat2():  # type: ignore[no-untyped-def]
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return None
    func.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    func.restype = ctypes.c_int
    return func


_renameat2 = _load_renameat2()
