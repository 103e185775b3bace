"""Results are replaced whole, and a run that died mid-swap is repaired."""

from __future__ import annotations

from pathlib import Path

from signpipe_gui.backend.pipeline.report import (
    iso_time,
    remove_leftovers,
    replace_results,
)


def make_results(folder: Path, content: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(content, encoding="utf-8")
    return folder


def test_replace_results_swaps_the_folders(tmp_path: Path) -> None:
    make_results(tmp_path / "results", "old")
    staged = make_results(tmp_path / ".results-new.tmp", "new")

    replace_results(tmp_path, staged)

    assert (tmp_path / "results" / "summary.json").read_text("utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_old_results_set_aside_by_a_dead_run_are_put_back(tmp_path: Path) -> None:
    make_results(tmp_path / ".results-0001.old", "old")
    make_results(tmp_path / ".results-0002.tmp", "half")

    remove_leftovers(tmp_path)

    assert (tmp_path / "results" / "summary.json").read_text("utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_leftovers_beside_whole_results_are_removed(tmp_path: Path) -> None:
    make_results(tmp_path / "results", "current")
    make_results(tmp_path / ".results-0001.old", "older")

    remove_leftovers(tmp_path)

    assert (tmp_path / "results" / "summary.json").read_text("utf-8") == "current"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_iso_time_has_milliseconds_and_z() -> None:
    assert iso_time(1533226488.299) == "2018-08-02T16:14:48.299Z"
