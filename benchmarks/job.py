"""The whole extraction job against bsdtar, and what publishing progress costs.

Run from the repository::

    .venv/bin/python benchmarks/job.py            # ~3,000 x 150 KB and 4 x 256 MB
    .venv/bin/python benchmarks/job.py --quick    # a tenth of that

Contenders, on the archives of ``benchmarks/archives.py``:

- ``bsdtar``: extraction alone, the fastest common extractor here;
- ``tee+sha256sum+sync+bsdtar``: what the job does, by hand in the shell: one pass
  that hashes the archive while copying it next to the store, the copy flushed to
  disk, then bsdtar on the copy;
- ``signpipe-job``: ``ExtractionJob.run()`` as the window and ``signpipe submit`` run
  it: read + sha256 + spool copy, flush, list and validate, claim, extract, verify,
  status.json and the final rename, publishing progress to a real redis-server
  (started by signpipe's embedded-server code) every 0.1 s and at each phase;
- ``signpipe-job (no progress)``: the same with job-object writes switched off (the
  recording claim still goes to Redis), to measure what progress costs.

Each run is a child process with a new store on the same disk; signpipe's time is
measured inside the child (the app is already running when a job starts). Tools take
turns round by round and the figures are medians.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.archives import FORMATS, WORK, data_sets, ensure_archives
from benchmarks.extract import Row, Tool, print_rows, run_once

STATS_FILE = "job-stats.json"
SHELL_JOB = (
    'tee "$2/spool.bin" < "$1" | sha256sum > /dev/null && sync "$2/spool.bin" '
    '&& bsdtar -xf "$2/spool.bin" -C "$2"'
)


def child_main(mode: str, archive: Path, dest: Path, redis_url: str) -> int:
    """Inside the child: run one whole job and print its own timing as JSON."""
    from signpipe_gui.backend.connection import connect
    from signpipe_gui.backend.ingest import ExtractionJob
    from signpipe_gui.backend.progress import RedisProgressService
    from signpipe_gui.backend.settings import Settings
    from signpipe_gui.backend.store import RecordingStore

    class CountingProgress(RedisProgressService):
        """Counts and times job-object writes; with ``quiet`` it drops them instead."""

        quiet = mode == "off"
        writes = 0
        seconds = 0.0

        def update_extraction_progress(self, job_id: str, /, **fields: Any) -> None:
            CountingProgress.writes += 1
            if not self.quiet:
                started = time.perf_counter()
                super().update_extraction_progress(job_id, **fields)
                CountingProgress.seconds += time.perf_counter() - started

        def create_job(self, job: dict[str, Any]) -> None:
            if not self.quiet:
                super().create_job(job)

    settings = Settings(
        data_dir=dest / "data", store=dest / "store", redis_url=redis_url
    )
    client = connect(settings)
    progress = CountingProgress(client)
    store = RecordingStore(settings.store_path)
    store.ensure()
    job = ExtractionJob(archive, settings=settings, store=store, progress=progress)
    job.create()

    started = time.perf_counter()
    final = job.run()
    seconds = time.perf_counter() - started

    if final["status"] != "done":
        sys.stderr.write(f"job failed: {final['error_msg']}\n")
        return 1
    progress.close()
    stats = {
        "seconds": seconds,
        "files": final["total_files"],
        "publishes": CountingProgress.writes,
        "publish_seconds": CountingProgress.seconds,
    }
    (dest / STATS_FILE).write_text(json.dumps(stats))
    sys.stdout.write(json.dumps(stats))
    return 0


def tools(redis_url: str) -> list[Tool]:
    def signpipe(mode: str) -> Tool:
        def command(archive: Path, dest: Path) -> list[str]:
            return [
                sys.executable,
                __file__,
                "--child",
                mode,
                str(archive),
                str(dest),
                "--redis-url",
                redis_url,
            ]

        name = "signpipe-job" + (" (no progress)" if mode == "off" else "")
        return Tool(name, FORMATS, command, inside_timing=True)

    return [
        Tool("bsdtar", FORMATS, lambda a, d: ["bsdtar", "-xf", str(a), "-C", str(d)]),
        Tool(
            "tee+sha256sum+sync+bsdtar",
            FORMATS,
            lambda a, d: ["sh", "-c", SHELL_JOB, "sh", str(a), str(d)],
        ),
        signpipe("on"),
        signpipe("off"),
    ]


def measure(quick: bool, rounds: int, redis_url: str) -> list[Row]:
    """Every contender on every archive, ``rounds`` times, taking turns."""
    archives = ensure_archives(quick)
    out_root = WORK / "out-job"
    shutil.rmtree(out_root, ignore_errors=True)
    contenders = tools(redis_url)
    rows: list[Row] = []
    try:
        _measure_all(quick, rounds, archives, contenders, out_root, rows)
    finally:
        shutil.rmtree(out_root, ignore_errors=True)
    return rows


def _measure_all(
    quick: bool,
    rounds: int,
    archives: dict[tuple[str, str], Path],
    contenders: list[Tool],
    out_root: Path,
    rows: list[Row],
) -> None:
    for data_set in data_sets(quick):
        for fmt in FORMATS:
            archive = archives[(data_set.name, fmt)]
            _warm(archive)
            batch = {t.name: Row(data_set.name, fmt, t.name, 0) for t in contenders}
            publishing: dict[str, list[dict[str, float]]] = {
                t.name: [] for t in contenders
            }
            for round_no in range(rounds):
                turn = round_no % len(contenders)
                for tool in contenders[turn:] + contenders[:turn]:
                    dest = out_root / f"{data_set.name}-{fmt}-{round_no}"
                    dest = dest / tool.name.replace(" ", "_").replace("+", "_")
                    batch[tool.name].samples.append(run_once(tool, archive, dest))
                    if (dest / STATS_FILE).exists():
                        stats = json.loads((dest / STATS_FILE).read_text())
                        publishing[tool.name].append(stats)
                    if data_set.count < 100:
                        shutil.rmtree(dest)
            size = sum(
                path.stat().st_size
                for path in (archive.parent / f"{data_set.name}-source").rglob("*")
                if path.is_file() and path.name != ".complete"
            )
            for row in batch.values():
                row.bytes = size
                rows.append(row)
            print_rows(list(batch.values()))
            _print_progress_cost(list(batch.values()), publishing["signpipe-job"])


def _print_progress_cost(rows: list[Row], publishing: list[dict[str, float]]) -> None:
    """Progress cost two ways: how busy the job's publishing thread was (the Redis
    round trips it took), and the job's median with publishing on against off (at
    the mercy of run-to-run noise, which is printed beside it)."""
    by_tool = {row.tool: row for row in rows}
    on, off = by_tool["signpipe-job"], by_tool["signpipe-job (no progress)"]
    cost = (on.seconds - off.seconds) / off.seconds * 100
    spread = statistics.pstdev(s.seconds for s in off.samples) / off.seconds * 100
    share = statistics.median(p["publish_seconds"] / p["seconds"] for p in publishing)
    writes = statistics.median(p["publishes"] for p in publishing)
    print(
        f"{on.set_name:6} {on.fmt:12} progress: {writes:.0f} writes, "
        f"publishing busy {share * 100:.2f} % of the job's time (own thread); "
        f"on vs off {cost:+5.1f} % (spread of runs without progress: {spread:.1f} %)",
        flush=True,
    )


def _warm(archive: Path) -> None:
    with open(archive, "rb") as fh:
        while fh.read(8 * 1024 * 1024):
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sets, 3 rounds")
    parser.add_argument("--rounds", type=int, default=0, help="runs per tool (5)")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "ARCHIVE", "DEST"))
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args(argv)

    if args.child:
        mode, archive, dest = args.child
        return child_main(mode, Path(archive), Path(dest), args.redis_url)

    from signpipe_gui.backend.redis_server import (
        ensure_embedded_redis,
        stop_embedded_redis,
    )

    data_dir = Path(tempfile.mkdtemp(prefix="signpipe-bench-"))
    server = ensure_embedded_redis(data_dir)
    try:
        rounds = args.rounds or (3 if args.quick else 5)
        rows = measure(args.quick, rounds, server.url)
    finally:
        stop_embedded_redis(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    print("\nAll figures (medians):")
    print_rows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
