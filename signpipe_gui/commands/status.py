"""``signpipe status [JOB_ID]``: one job in the status shape, or the recent jobs."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from signpipe_gui.commands.submit import format_bytes, open_services

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_REDIS = 3

# A job id may be shortened to its first characters, as the table shows it.
MIN_PREFIX = 6
SHORT_ID = 8

EPILOG = """\
exit codes:
  0  the job (or the list) was printed
  1  no job has that id, or the id prefix matches several jobs
  2  the command line or a setting was wrong
  3  Redis could not be reached (or the embedded one started)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "job_id",
        nargs="?",
        metavar="JOB_ID",
        help=f"a job id, or its first {MIN_PREFIX}+ characters; none lists the jobs",
    )
    parser.add_argument("--store", type=Path, help="recordings store (folder)")
    parser.add_argument(
        "--redis-url", help="the lab's Redis (default: the embedded one)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--limit", type=int, default=50, help="how many recent jobs to list"
    )


def run(args: argparse.Namespace) -> int:
    opened = open_services(args.store, args.redis_url)
    if opened is None:
        return EXIT_REDIS
    _settings, client, progress = opened
    try:
        if args.job_id:
            return _show_one(progress, args.job_id, as_json=args.json)
        return _show_list(progress, args.limit, as_json=args.json)
    finally:
        progress.close()
        client.close()


def _show_one(progress: Any, wanted: str, *, as_json: bool) -> int:
    job_id = _resolve(progress, wanted)
    status = progress.get_status(job_id) if job_id else None
    if status is None:
        return EXIT_NOT_FOUND

    if as_json:
        sys.stdout.write(json.dumps(status, sort_keys=False, default=str) + "\n")
        return EXIT_OK
    # The status shape's own fields first, then the rest in name order (Redis does
    # not keep the order in which fields were written).
    head = list(status)[:10]
    names = head + sorted(name for name in status if name not in head)
    width = max(len(name) for name in names)
    for name in names:
        value = status[name]
        sys.stdout.write(f"{name:<{width}}  {_value_text(name, value)}\n")
    return EXIT_OK


def _resolve(progress: Any, wanted: str) -> str | None:
    """The full job id for ``wanted`` (an id or a unique prefix), or None."""
    if progress.get_extraction_progress(wanted) is not None:
        return str(wanted)
    if len(wanted) < MIN_PREFIX:
        sys.stderr.write(f"signpipe: no job {wanted!r}.\n")
        return None
    matches = [
        job_id
        for job_id in progress.list_job_ids(limit=10_000)
        if job_id.startswith(wanted)
    ]
    if len(matches) == 1:
        return str(matches[0])
    if matches:
        sys.stderr.write(
            f"signpipe: {len(matches)} jobs start with {wanted!r}; "
            "give more of the id.\n"
        )
    else:
        sys.stderr.write(f"signpipe: no job {wanted!r}.\n")
    return None


def _show_list(progress: Any, limit: int, *, as_json: bool) -> int:
    jobs = progress.list_jobs(limit=limit)
    if as_json:
        from signpipe_gui.backend.jobs import status_shape

        shapes = [status_shape(job) for job in jobs]
        sys.stdout.write(json.dumps(shapes, default=str) + "\n")
        return EXIT_OK
    if not jobs:
        sys.stdout.write("No jobs.\n")
        return EXIT_OK

    rows: list[tuple[str, ...]] = [
        (
            "JOB",
            "STATUS",
            "PHASE",
            "PCT",
            "PIPELINE",
            "FILES",
            "SIZE",
            "ARCHIVE",
            "RECORDING",
            "WHEN",
        )
    ]
    rows += [_row(job) for job in jobs]
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        sys.stdout.write("  ".join(cells).rstrip() + "\n")
    return EXIT_OK


def _row(job: dict[str, Any]) -> tuple[str, ...]:
    status = str(job.get("status") or "")
    total = job.get("total_files")
    files = f"{job.get('extracted_files') or 0}/{total}" if total is not None else "-"
    recording = job.get("recording_id") or ""
    if status == "error":
        code = (job.get("error_details") or {}).get("code")
        recording = f"{recording} ({code})" if recording else f"({code})"
    # A finished job's phase is the last one it went through: only noise in a list.
    phase = "-" if status == "done" else str(job.get("phase") or "-")
    return (
        str(job.get("job_id", ""))[:SHORT_ID],
        status,
        phase,
        f"{float(job.get('progress_percent') or 0):.0f}%",
        str(job.get("pipeline_status") or "-"),
        files,
        format_bytes(job.get("extract_size") or job.get("archive_size")),
        _short(str(job.get("archive_name") or ""), 40),
        recording,
        _when(job.get("updated_at") or job.get("created_at")),
    )


def _value_text(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name.endswith("_at") and isinstance(value, int | float):
        return f"{_when(value, full=True)} ({value})"
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def _when(value: Any, *, full: bool = False) -> str:
    if not isinstance(value, int | float):
        return "-"
    moment = dt.datetime.fromtimestamp(value)
    if full or moment.date() != dt.date.today():
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.strftime("%H:%M:%S")


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
