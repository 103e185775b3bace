"""The status dict helpers: schema, stage progress, overall percent, endings."""

from __future__ import annotations

from signpipe_gui.backend.pipeline import status as st

SCHEMA = {
    "recording_id",
    "status",
    "stage",
    "progress_percent",
    "stages",
    "task_id",
    "worker",
    "attempt",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "heartbeat_at",
    "error_msg",
    "error_details",
    "results",
    "source",
}


def test_new_status_has_every_field_and_the_four_stages() -> None:
    document = st.new_status("2024_05_20_23_32_53_415", now=5.0, task_id="t1")

    assert set(document) == SCHEMA
    assert document["status"] == "queued"
    assert document["task_id"] == "t1"
    assert [s["name"] for s in document["stages"]] == list(st.STAGES)
    assert {s["status"] for s in document["stages"]} == {"pending"}


def test_start_run_keeps_the_callers_fields_and_clears_the_last_run() -> None:
    old = st.new_status("r", task_id="t1", attempt=2, source={"job_id": "j"})
    old = st.finish_run(old, st.PipelineStatus.ERROR, error_msg="Broke.", now=9.0)

    document = st.start_run(old, now=10.0)

    assert (document["task_id"], document["attempt"]) == ("t1", 2)
    assert document["source"] == {"job_id": "j"}
    assert document["status"] == "running"
    assert document["error_msg"] is None
    assert document["started_at"] == document["heartbeat_at"] == 10.0
    assert document["finished_at"] is None


def test_stage_progress_is_weighted_and_never_goes_back() -> None:
    document = st.start_run(st.new_status("r"), now=0.0)
    document = st.update_stage(
        document, "inventory", state=st.StageStatus.RUNNING, now=1.0
    )
    document = st.update_stage(
        document, "inventory", state=st.StageStatus.DONE, now=2.0
    )
    document = st.update_stage(
        document, "detect", state=st.StageStatus.RUNNING, now=2.0
    )
    document = st.update_stage(document, "detect", percent=50.0, now=3.0)
    backwards = st.update_stage(document, "detect", percent=10.0, now=4.0)

    assert document["progress_percent"] == 5 + 40
    assert document["stage"] == "detect"
    assert backwards["progress_percent"] == 45
    assert backwards["stages"][1]["percent"] == 50.0
    assert backwards["stages"][0]["finished_at"] == 2.0
    assert backwards["heartbeat_at"] == 4.0


def test_an_error_marks_the_running_stage() -> None:
    document = st.start_run(st.new_status("r"), now=0.0)
    document = st.update_stage(document, "inventory", state=st.StageStatus.RUNNING)

    ended = st.finish_run(
        document, st.PipelineStatus.ERROR, error_msg="No frames.", now=3.0
    )

    assert ended["status"] == "error"
    assert ended["error_msg"] == "No frames."
    assert ended["stages"][0]["status"] == "error"
    assert ended["stages"][1]["status"] == "pending"
    assert document["status"] == "running"  # the input is not changed


def test_done_is_exactly_100() -> None:
    document = st.start_run(st.new_status("r"), now=0.0)

    ended = st.finish_run(document, st.PipelineStatus.DONE, results={"signs": 1})

    assert ended["progress_percent"] == 100.0
    assert ended["results"] == {"signs": 1}
