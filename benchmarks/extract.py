"""Extraction speed of signpipe against bsdtar, GNU tar and unzip, in one run.

Run from the repository::

    .venv/bin/python benchmarks/extract.py          # ~3,000 x 150 KB and 4 x 256 MB
    .venv/bin/python benchmarks/extract.py --quick  # a tenth of that, a fast check

Every run extracts into a new folder on the same disk (the file system reuses freed
inodes slowly, which would penalise whoever runs after a delete), the tools take
turns round by round (so page-cache and memory effects fall on all alike), and the
figures are medians. Each extraction runs in a child process so its peak RSS can
be read from the kernel. signpipe's time is the phase itself (open, list and
validate, extract, with a progress callback like the job's), measured inside the
child: the desktop app is already running when it extracts.

More signpipe measurements plug in through ``PHASES`` (name -> function).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.archives import FORMATS, WORK, data_sets, ensure_archives

MB = 1_000_000
SETTLE_SECONDS = 60
TIME = "/usr/bin/time"


class ThrottledProgress:
    """Progress as the extraction job reports it: a JSON object at most 10 times/s."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.calls = 0
        self.published = 0
        self._next = 0.0

    def __call__(self, files: int, done: int) -> None:
        self.calls += 1
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval
            self.published += 1
            json.dumps({"extracted_files": files, "bytes_done": done, "at": now})


def extract_phase(archive: Path, dest: Path, progress: bool) -> dict[str, object]:
    """signpipe's extraction phase: open, list and validate, then extract."""
    from signpipe_gui.backend.archive import ArchiveLimits, open_archive

    report = ThrottledProgress()
    with open_archive(archive, ArchiveLimits(), spool=dest) as reader:
        listing = reader.listing()
        reader.extract(
            listing,
            dest,
            on_progress=report if progress else (lambda files, done: None),
            cancel=threading.Event(),
        )
    return {"files": listing.total_files, "progress_calls": report.calls}


# signpipe measurements by name; each extracts ``archive`` under ``dest``.
PHASES: dict[str, Callable[[Path, Path, bool], dict[str, object]]] = {
    "extract": extract_phase,
}


@dataclass(frozen=True)
class Tool:
    """A contender: a command line, or a signpipe phase run in a child process."""

    name: str
    formats: tuple[str, ...]
    command: Callable[[Path, Path], list[str]]
    inside_timing: bool = False


def _signpipe(phase: str, progress: bool) -> Tool:
    def command(archive: Path, dest: Path) -> list[str]:
        args = [sys.executable, __file__, "--child", phase, str(archive), str(dest)]
        return args if progress else [*args, "--no-progress"]

    name = f"signpipe-{phase}" + ("" if progress else " (no progress)")
    return Tool(name, FORMATS, command, inside_timing=True)


def tools(phases: list[str]) -> list[Tool]:
    """signpipe (each phase, plus extract without progress) and the usual tools."""
    zips = ("zip-deflate", "zip-stored")
    tars = ("tar", "tar.gz")
    found = [
        Tool("bsdtar", FORMATS, lambda a, d: ["bsdtar", "-xf", str(a), "-C", str(d)]),
        Tool("GNU tar", tars, lambda a, d: ["tar", "-xf", str(a), "-C", str(d)]),
        Tool("unzip", zips, lambda a, d: ["unzip", "-qq", str(a), "-d", str(d)]),
    ]
    found += [_signpipe(phase, True) for phase in phases]
    found.append(_signpipe("extract", False))
    return [
        t for t in found if t.inside_timing or shutil.which(t.command(WORK, WORK)[0])
    ]


@dataclass
class Sample:
    """One timed run."""

    seconds: float
    rss_mb: float
    files: int


@dataclass
class Row:
    """All runs of one tool on one archive."""

    set_name: str
    fmt: str
    tool: str
    bytes: int
    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def rss_mb(self) -> float:
        return max(s.rss_mb for s in self.samples)


def run_once(tool: Tool, archive: Path, dest: Path) -> Sample:
    """Run a tool in a child process; wall time (or the child's own) and peak RSS."""
    dest.mkdir(parents=True)
    _touch_memory()
    # GNU time reports the child's peak RSS; wait4 from here would not, because a
    # child's high-water mark starts from its parent's memory (ours) at exec.
    command = [TIME, "-f", "%M", *tool.command(archive, dest)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{tool.name} failed on {archive.name}: {done.stderr!r}")
    rss_kb = int(done.stderr.decode().strip().splitlines()[-1])
    info = json.loads(done.stdout) if tool.inside_timing else {}
    seconds = float(info.get("seconds", elapsed))
    files = int(info.get("files", 0)) or _count_files(dest)
    return Sample(seconds, rss_kb / 1024, files)


def _touch_memory(size: int = 512 * 1024 * 1024) -> None:
    """Write to memory once: the host reclaims idle memory, and the next page-cache
    fill would otherwise pay to get it back."""
    block = bytearray(size)
    memoryview(block)[::4096] = b"\x01" * (size // 4096)
    del block


def _count_files(dest: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(dest))


def _warm(archive: Path) -> None:
    with open(archive, "rb") as fh:
        while fh.read(8 * 1024 * 1024):
            pass


def measure(
    quick: bool,
    rounds: int,
    phases: list[str],
    settle: bool,
    formats: list[str],
    sets: list[str],
) -> list[Row]:
    """Every tool on every archive, ``rounds`` times, tools taking turns."""
    archives = ensure_archives(quick)
    out_root = WORK / "out"
    if out_root.exists():
        shutil.rmtree(out_root)
        if settle:
            print(
                f"Letting the file system settle for {SETTLE_SECONDS} s after cleanup"
            )
            time.sleep(SETTLE_SECONDS)
    contenders = tools(phases)
    rows: list[Row] = []

    for data_set in data_sets(quick):
        if sets and data_set.name not in sets:
            continue
        for fmt in formats or FORMATS:
            archive = archives[(data_set.name, fmt)]
            _warm(archive)
            here = [t for t in contenders if fmt in t.formats]
            batch = {t.name: Row(data_set.name, fmt, t.name, 0) for t in here}
            for round_no in range(rounds):
                order = here[round_no % len(here) :] + here[: round_no % len(here)]
                for tool in order:
                    dest = out_root / f"{data_set.name}-{fmt}-{len(rows)}-{round_no}"
                    dest = dest / tool.name.replace(" ", "_")
                    batch[tool.name].samples.append(run_once(tool, archive, dest))
                    if data_set.count < 100:  # few files: deleting costs nothing later
                        shutil.rmtree(dest)
            size = sum(
                f.stat().st_size for f in (archive.parent / f"{data_set.name}-source")
                .rglob("*") if f.is_file() and f.name != ".complete"
            )  # fmt: skip
            for row in batch.values():
                row.bytes = size
                rows.append(row)
            print_rows(list(batch.values()))
    shutil.rmtree(out_root)
    return rows


def print_rows(rows: list[Row]) -> None:
    """One line per tool: seconds, MB/s, files/s, RSS, and speed relative to bsdtar."""
    base = {(r.set_name, r.fmt): r.seconds for r in rows if r.tool == "bsdtar"}
    for row in rows:
        files = row.samples[0].files
        ratio = base.get((row.set_name, row.fmt), 0.0) / row.seconds
        speed = row.bytes / MB / row.seconds
        print(
            f"{row.set_name:6} {row.fmt:12} {row.tool:30} {row.seconds:7.3f} s "
            f"{speed:8.0f} MB/s {files / row.seconds:9.0f} files/s "
            f"{row.rss_mb:7.1f} MB RSS  {ratio:5.2f}x bsdtar",
            flush=True,
        )


def child_main(phase: str, archive: Path, dest: Path, progress: bool) -> int:
    """Inside the child: run one signpipe phase and print its own timing as JSON."""
    import signpipe_gui.backend.archive  # noqa: F401  (imported before the clock starts)

    started = time.perf_counter()
    info = PHASES[phase](archive, dest, progress)
    info["seconds"] = time.perf_counter() - started
    sys.stdout.write(json.dumps(info))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sets, 3 rounds")
    parser.add_argument("--rounds", type=int, default=0, help="runs per tool (5)")
    parser.add_argument("--phase", action="append", choices=sorted(PHASES))
    parser.add_argument("--format", action="append", choices=FORMATS, default=[])
    parser.add_argument("--set", action="append", choices=["many", "large"], default=[])
    parser.add_argument("--no-settle", action="store_true", help="skip the pause")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--child", nargs=3, metavar=("PHASE", "ARCHIVE", "DEST"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    if args.child:
        phase, archive, dest = args.child
        return child_main(phase, Path(archive), Path(dest), not args.no_progress)

    rounds = args.rounds or (3 if args.quick else 5)
    rows = measure(
        args.quick,
        rounds,
        args.phase or ["extract"],
        not args.no_settle,
        args.format,
        args.set,
    )
    print("\nAll figures (medians):")
    print_rows(rows)
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "set": r.set_name,
                        "format": r.fmt,
                        "tool": r.tool,
                        "seconds": r.seconds,
                        "rss_mb": r.rss_mb,
                        "bytes": r.bytes,
                        "files": r.samples[0].files,
                    }
                    for r in rows
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
