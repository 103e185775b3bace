"""The job model: a thin adapter that changes only the rows whose snapshot changed."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from signpipe_gui.widgets.job_filter import JobFilterModel, QuickFilter
from signpipe_gui.widgets.job_table_model import (
    Column,
    JobTableModel,
    PipelineRole,
    ProgressRole,
    StatusRole,
)


def job(job_id: str, status: str = "queued", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "job_id": job_id,
        "status": status,
        "phase": None,
        "progress_percent": 0,
        "archive_name": f"{job_id}.zip",
        "archive_size": 1_500_000,
        "host": "here",
        "created_at": 1_700_000_000.0,
    }
    base.update(fields)
    return base


EVERY_STATE = [
    job("a"),
    job(
        "b",
        "reading",
        phase="reading",
        progress_percent=7,
        bytes_done=10,
        bytes_total=99,
    ),
    job("c", "preparing", phase="writing", progress_percent=20),
    job(
        "d",
        "running",
        phase="running",
        progress_percent=55,
        total_files=3000,
        extracted_files=1204,
        speed_bps=2e7,
        eta_seconds=75,
        recording_id="2024_05_20_23_32_53_415",
    ),
    job("e", "done", progress_percent=100, recording_id="2024_05_21_08_00_00_000"),
    job("f", "error", error_msg="The archive is truncated.", host="elsewhere"),
    job("g", "cancelled"),
]


def test_model_passes_qtmodeltester(qtmodeltester: ModelTester) -> None:
    model = JobTableModel(host="here")
    model.upsert_jobs(EVERY_STATE)
    model.set_pipelines(
        {"2024_05_21_08_00_00_000": {"status": "running", "stage": "detect"}}
    )

    qtmodeltester.check(model, force_py=True)

    proxy = JobFilterModel()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy, force_py=True)


def test_roles_give_words_and_numbers_for_the_delegate() -> None:
    model = JobTableModel(host="here")
    model.upsert_jobs(EVERY_STATE)
    running = model.index(3, Column.PROGRESS)

    assert running.data() == "Extracting · 1,204 / 3,000 files"
    assert running.data(ProgressRole) == 55.0
    assert running.data(StatusRole) == "running"
    assert model.index(3, Column.SPEED).data() == "20.0 MB/s"
    assert model.index(3, Column.ETA).data() == "1 min 15 s"
    assert model.index(5, Column.PROGRESS).data() == "The archive is truncated."
    assert model.index(5, Column.STATUS).data() == "Failed"

    model.set_pipelines(
        {
            "2024_05_21_08_00_00_000": {
                "status": "running",
                "stage": "detect",
                "progress_percent": 45,
            }
        }
    )
    pipeline = model.index(4, Column.PIPELINE)
    assert pipeline.data() == "Detect · 45 %"
    assert pipeline.data(ProgressRole) == 45.0
    assert pipeline.data(PipelineRole)["stage"] == "detect"


def test_a_changed_job_emits_data_changed_for_its_row_only(qtbot: QtBot) -> None:
    model = JobTableModel(host="here")
    model.upsert_jobs(EVERY_STATE)
    changes: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: changes.append((a.row(), b.row())))
    inserted: list[int] = []
    model.rowsInserted.connect(lambda _p, first, _l: inserted.append(first))

    same = [dict(j) for j in EVERY_STATE]
    same[3]["extracted_files"] = 1300
    rows = model.upsert_jobs(same)

    assert rows == [3]
    assert changes == [(3, 3)]
    assert not inserted
    assert model.index(3, Column.PROGRESS).data().startswith("Extracting · 1,300")


def test_pipelines_change_only_the_pipeline_cells_of_their_rows() -> None:
    model = JobTableModel(host="here")
    jobs = [
        job(str(n), "done", recording_id=f"2024_05_20_23_32_{n:02d}_415")
        for n in range(6)
    ]
    model.upsert_jobs(jobs)
    changes: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(
        lambda a, b, *_: changes.append((a.row(), b.row(), a.column(), b.column()))
    )
    running = {"status": "running", "stage": "detect", "progress_percent": 45}

    model.set_pipelines({jobs[n]["recording_id"]: running for n in (1, 2, 3, 5)})
    model.set_pipelines({jobs[1]["recording_id"]: dict(running)})  # no news

    column = Column.PIPELINE
    assert changes == [(1, 3, column, column), (5, 5, column, column)]
    assert model.index(5, column).data() == "Detect · 45 %"


def test_new_jobs_are_inserted_and_removed_jobs_go() -> None:
    model = JobTableModel(host="here")
    model.upsert_jobs(EVERY_STATE[:2])
    removed: list[int] = []
    model.rowsRemoved.connect(lambda _p, first, _l: removed.append(first))

    model.upsert_jobs([job("z")])
    model.remove_job("a")

    assert model.job_ids() == ["b", "z"]
    assert removed == [0]
    assert model.row_of("z") == 1


def test_quick_filters_and_text_filter() -> None:
    model = JobTableModel(host="here")
    model.upsert_jobs(EVERY_STATE)
    proxy = JobFilterModel()
    proxy.setSourceModel(model)

    def ids() -> set[str]:
        return {
            proxy.index(r, 0).data(StatusRole)
            + ":"
            + str(model.job(proxy.mapToSource(proxy.index(r, 0)).row())["job_id"])
            for r in range(proxy.rowCount(QModelIndex()))
        }

    proxy.set_quick_filter(QuickFilter.ACTIVE)
    assert ids() == {"queued:a", "reading:b", "preparing:c", "running:d"}
    proxy.set_quick_filter(QuickFilter.FAILED)
    assert ids() == {"error:f"}
    proxy.set_quick_filter(QuickFilter.DONE)
    assert ids() == {"done:e"}
    proxy.set_quick_filter(QuickFilter.THIS_WORKSTATION)
    assert "error:f" not in ids()
    proxy.set_quick_filter(QuickFilter.ALL)
    proxy.set_text("2024_05_21")
    assert ids() == {"done:e"}


def test_a_failed_duplicate_does_not_show_the_stored_recordings_pipeline() -> None:
    recording_id = "2024_05_21_08_00_00_000"
    model = JobTableModel(host="here")
    model.upsert_jobs(
        [
            job("e", "done", progress_percent=100, recording_id=recording_id),
            job(
                "h",
                "error",
                error_msg="Recording already exists.",
                recording_id=recording_id,
            ),
        ]
    )
    model.set_pipelines({recording_id: {"status": "done", "results": {"signs": 3}}})

    assert model.index(0, Column.PIPELINE).data() == "Done · 3 signs"
    model.set_pipelines({recording_id: {"status": "done", "results": {"signs": 1}}})
    assert model.index(0, Column.PIPELINE).data() == "Done · 1 sign"
    assert model.index(1, Column.PIPELINE).data() == ""
    assert model.index(1, Column.PIPELINE).data(StatusRole) == ""
