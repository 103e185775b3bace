"""``signpipe submit`` and ``signpipe status`` run as a lab user runs them."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from signpipe_gui.backend.redis_server import EmbeddedRedis
from signpipe_gui.backend.store import RecordingStore
from signpipe_gui.commands.submit import ProgressDisplay, describe_job
from tests.test_ingest_support import (
    RECORDING_ID,
    build_tar,
    build_zip,
    recording_files,
    sha256_of,
    staging_left,
)


def signpipe(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signpipe_gui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_signpipe(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "signpipe_gui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def where(
    redis_server: EmbeddedRedis, redis_client: object, store: RecordingStore
) -> list[str]:
    """The options that point a command at the test Redis and store."""
    return ["--redis-url", redis_server.url, "--store", str(store.root)]


def test_submit_json_prints_each_final_object_and_fails_if_one_failed(
    tmp_path: Path, where: list[str], store: RecordingStore
) -> None:
    good = build_zip(tmp_path / "drive.zip", recording_files())
    bad = tmp_path / "notes.zip"
    bad.write_text("not an archive")

    result = signpipe("submit", str(good), str(bad), "--json", "--no-pipeline", *where)

    assert result.returncode == 1, result.stderr
    finals = {job["archive_name"]: job for job in json_lines(result.stdout)}
    assert finals["drive.zip"]["status"] == "done"
    assert finals["drive.zip"]["progress_percent"] == 100
    assert finals["notes.zip"]["status"] == "error"
    assert finals["notes.zip"]["error_details"]["code"] == "unknown_format"
    assert store.recording_ids() == [RECORDING_ID]
    assert "Traceback" not in result.stderr


def test_submit_prints_plain_progress_lines_off_a_terminal(
    tmp_path: Path, where: list[str], store: RecordingStore
) -> None:
    first = build_zip(tmp_path / "first.zip", recording_files())
    second = build_tar(
        tmp_path / "second.tar",
        recording_files(recording_id="2024_05_20_23_32_53_416"),
    )

    result = signpipe("submit", str(first), str(second), "--no-pipeline", *where)

    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout
    done_lines = [line for line in result.stdout.splitlines() if " done " in line]
    assert len(done_lines) == 2
    assert any("2024_05_20_23_32_53_416" in line for line in done_lines)
    assert len(store.recording_ids()) == 2


def test_submit_queues_the_pipeline_for_the_new_recording(
    tmp_path: Path, where: list[str]
) -> None:
    archive = build_zip(tmp_path / "drive.zip", recording_files())

    result = signpipe("submit", str(archive), "--json", *where)

    assert result.returncode == 0, result.stderr
    (final,) = json_lines(result.stdout)
    assert final["pipeline_status"] == "queued"
    assert final["pipeline_task_id"]


def test_two_processes_racing_for_one_recording_make_exactly_one(
    tmp_path: Path, where: list[str], store: RecordingStore
) -> None:
    first = build_zip(tmp_path / "first.zip", recording_files(count=60))
    second = build_tar(tmp_path / "second.tar", recording_files(count=60, size=7))
    sources = {path: sha256_of(path) for path in (first, second)}

    processes = [
        start_signpipe("submit", str(path), "--json", "--no-pipeline", *where)
        for path in (first, second)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]

    codes = sorted(process.returncode for process in processes)
    assert codes == [0, 1], outputs
    finals = [json_lines(stdout)[0] for stdout, _ in outputs]
    errors = [job for job in finals if job["status"] == "error"]
    assert [job["error_msg"] for job in errors] == ["Recording already exists."]
    assert store.recording_ids() == [RECORDING_ID]
    assert staging_left(store.root) == []
    assert {path: sha256_of(path) for path in sources} == sources


def test_status_lists_jobs_and_shows_one_by_id_or_prefix(
    tmp_path: Path, where: list[str]
) -> None:
    archive = build_zip(tmp_path / "drive.zip", recording_files())
    submitted = signpipe("submit", str(archive), "--json", "--no-pipeline", *where)
    job_id = json_lines(submitted.stdout)[0]["job_id"]

    table = signpipe("status", *where)
    one = signpipe("status", job_id, "--json", *where)
    by_prefix = signpipe("status", job_id[:8], *where)
    listed = signpipe("status", "--json", *where)

    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()[:2]
    assert header.split()[:5] == ["JOB", "STATUS", "PHASE", "PCT", "PIPELINE"]
    assert row.startswith(job_id[:8])
    # Done, no phase of its own any more, pipeline not queued (--no-pipeline).
    assert row.split()[1:5] == ["done", "-", "100%", "not_queued"]
    assert RECORDING_ID in row
    shape = json.loads(one.stdout)
    assert list(shape)[:4] == ["status", "phase", "percent", "message"]
    assert shape["percent"] == 100
    assert by_prefix.returncode == 0
    assert f"recording_id      {RECORDING_ID}" in by_prefix.stdout
    assert [job["job_id"] for job in json.loads(listed.stdout)] == [job_id]


def test_status_of_an_unknown_job_says_so(where: list[str]) -> None:
    result = signpipe("status", "0123456789abcdef", *where)

    assert result.returncode == 1
    assert "no job '0123456789abcdef'" in result.stderr


def test_an_unreachable_redis_is_reported_in_words(tmp_path: Path) -> None:
    archive = build_zip(tmp_path / "drive.zip", recording_files())
    options = ["--redis-url", "redis://:secret@127.0.0.1:1/0"]

    submitted = signpipe("submit", str(archive), "--store", str(tmp_path), *options)
    status = signpipe("status", *options)

    for result in (submitted, status):
        assert result.returncode == 3
        assert "cannot be reached" in result.stderr
        assert "secret" not in result.stderr
        assert "Traceback" not in result.stderr


def test_a_redis_url_with_an_unencoded_password_is_refused_in_words(
    tmp_path: Path,
) -> None:
    # openssl rand -base64 gives passwords with "/" in them; unencoded, a URL
    # parser would take part of the password for the host or the database.
    url = "redis://:Ab3/Zq9+x/Tt@127.0.0.1:6391/0"

    submitted = signpipe("submit", str(tmp_path / "a.zip"), "--redis-url", url)
    status = signpipe("status", "--redis-url", url)

    for result in (submitted, status):
        assert result.returncode == 2
        assert "percent-encoded" in result.stderr
        assert "Zq9" not in result.stderr
        assert "Traceback" not in result.stderr


def test_help_documents_the_exit_codes() -> None:
    for command in ("submit", "status"):
        result = signpipe(command, "--help")
        assert result.returncode == 0
        assert "exit codes:" in result.stdout
        assert "Redis could not be reached" in result.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_display_redraws_one_line_per_job_on_a_terminal() -> None:
    stream = _Terminal()
    display = ProgressDisplay(stream, ["a.zip", "b.tar"])
    running = {
        "status": "running",
        "phase": "running",
        "progress_percent": 65.0,
        "extracted_files": 5,
        "total_files": 10,
        "speed_bps": 2_500_000,
        "eta_seconds": 75,
    }
    queued = {"status": "queued", "progress_percent": 0, "message": "Waiting."}

    display.show([running, queued])
    display.show([{**running, "progress_percent": 70.0}, queued])

    text = stream.getvalue()
    assert text.count("\n") == 4
    assert "\x1b[2F" in text  # moved back up over the two lines to redraw them
    for words in ("5/10", "2.5 MB/s", "ETA 1:15"):
        assert words in text


def test_describe_job_puts_failures_in_words() -> None:
    line = describe_job(
        "drive.zip",
        {"status": "error", "progress_percent": 30, "error_msg": "Broken."},
    )

    assert line.endswith("Broken.")
