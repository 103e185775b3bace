"""Benchmark archives: JPEG-like frames and large files, packed as zip and tar.

Built once and cached under ``benchmarks/.work/`` (git-ignored); a set is rebuilt
only when its marker file is missing. Run directly to build them:
``.venv/bin/python benchmarks/archives.py [--quick]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WORK = Path(__file__).resolve().parent / ".work"
RECORDING_ID = "2024_05_20_23_32_53_415"
FORMATS = ("zip-deflate", "zip-stored", "tar", "tar.gz")
MIB = 1024 * 1024
POOL_BYTES = 64 * MIB


@dataclass(frozen=True)
class DataSet:
    """A set of files to pack: how many, and how large each is."""

    name: str
    count: int
    size: int

    def archive(self, fmt: str, quick: bool) -> Path:
        suffix = {"zip-deflate": ".zip", "zip-stored": "-stored.zip"}.get(
            fmt, "." + fmt
        )
        return _root(quick) / f"{self.name}{suffix}"


def data_sets(quick: bool) -> tuple[DataSet, ...]:
    """~3,000 frames of ~150 KB and 4 files of 256 MB (or a tenth, for --quick)."""
    if quick:
        return (DataSet("many", 300, 150 * 1024), DataSet("large", 4, 24 * MIB))
    return (DataSet("many", 3000, 150 * 1024), DataSet("large", 4, 256 * MIB))


def _root(quick: bool) -> Path:
    return WORK / ("quick" if quick else "full")


def _jpeg_like_pool(seed: int = 7) -> bytes:
    """Bytes that compress about as badly as JPEG does (~5 %), but not by storing.

    Uniform random bytes would make deflate store blocks, which inflate merely
    copies; skewed bytes get Huffman-coded like real photos.
    """
    rng = np.random.default_rng(seed)
    values = rng.geometric(0.008, size=POOL_BYTES) % 256
    return values.astype(np.uint8).tobytes()


def _write_tree(data_set: DataSet, source: Path, pool: bytes) -> None:
    rng = np.random.default_rng(len(data_set.name) + data_set.count)
    folder = source / RECORDING_ID / ("camera" if data_set.count > 10 else "video")
    folder.mkdir(parents=True, exist_ok=True)
    header = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    for index in range(data_set.count):
        size = int(data_set.size * rng.uniform(0.9, 1.1))
        with open(folder / f"{index:05d}.jpg", "wb") as fh:
            fh.write(header)
            written = len(header)
            while written < size:
                piece = min(size - written, 8 * MIB)
                start = int(rng.integers(0, len(pool) - piece))
                fh.write(pool[start : start + piece])
                written += piece
    (source / RECORDING_ID / "gps.csv").write_text(
        "".join(f"{i},52.{i:06d},13.{i:06d}\n" for i in range(2000))
    )


def _pack(fmt: str, source: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".part")
    if fmt.startswith("zip"):
        method = zipfile.ZIP_DEFLATED if fmt == "zip-deflate" else zipfile.ZIP_STORED
        with zipfile.ZipFile(partial, "w", method, allowZip64=True) as archive:
            for path in sorted((source / RECORDING_ID).rglob("*")):
                archive.write(path, path.relative_to(source).as_posix())
    else:
        args = ["tar", "-C", str(source), "-cf", str(partial), RECORDING_ID]
        if fmt == "tar.gz":
            args.insert(1, "-z")
        subprocess.run(args, check=True)
    partial.rename(target)


def ensure_archives(quick: bool, log: bool = True) -> dict[tuple[str, str], Path]:
    """Every (set, format) archive, built if missing; returns their paths."""
    paths: dict[tuple[str, str], Path] = {}
    pool: bytes | None = None
    for data_set in data_sets(quick):
        wanted = {fmt: data_set.archive(fmt, quick) for fmt in FORMATS}
        paths.update({(data_set.name, f): p for f, p in wanted.items()})
        missing = [f for f, p in wanted.items() if not p.exists()]
        if not missing:
            continue
        source = _root(quick) / f"{data_set.name}-source"
        if not (source / ".complete").exists():
            if log:
                print(f"Writing {data_set.count} files for the {data_set.name!r} set")
            pool = pool or _jpeg_like_pool()
            _write_tree(data_set, source, pool)
            (source / ".complete").touch()
        if log:
            print(f"Packing {data_set.name!r} as {', '.join(missing)}")
        with ThreadPoolExecutor(2) as workers:
            jobs = [workers.submit(_pack, f, source, wanted[f]) for f in missing]
            for job in jobs:
                job.result()
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sets")
    args = parser.parse_args(argv)
    for (name, fmt), path in ensure_archives(args.quick).items():
        print(f"{name:6} {fmt:12} {path.stat().st_size / MIB:9.1f} MiB  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
