"""Fixtures for the pipeline tests: the real-world data and recordings built from it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from signpipe_gui.backend.settings import Settings

REPO = Path(__file__).resolve().parents[2]
REALWORLD = REPO / ".." / "shared" / "data" / "realworld"
RECORDING_ID = "2018_08_02_16_14_48_299"  # the comma2k19 drive's first fix, UTC


@pytest.fixture(scope="session")
def realworld() -> Path:
    """The folder of real photos, GPS track and frames, next to the repository."""
    if not (REALWORLD / "road-sign-detection-cc0").is_dir():
        pytest.skip(f"the real-world test data is not at {REALWORLD.resolve()}")
    return REALWORLD.resolve()


@pytest.fixture
def photos(realworld: Path) -> Path:
    return realworld / "road-sign-detection-cc0" / "images"


@pytest.fixture
def ublox_csv(realworld: Path) -> Path:
    return realworld / "comma2k19-example-segment" / "live_gnss_ublox.csv"


@pytest.fixture
def pipeline_settings(tmp_path: Path) -> Settings:
    """Settings that need no Redis: the pipeline itself never talks to it."""
    return Settings(data_dir=tmp_path / "data", store=tmp_path / "store")


@pytest.fixture
def make_recording(tmp_path: Path) -> Callable[..., Path]:
    """Build a recording folder: frames (copied photos) under camera/, a GPS file."""

    def build(
        frames: dict[str, Path | np.ndarray],
        *,
        gps: Path | str | None = None,
        gps_name: str = "gps.csv",
        recording_id: str = RECORDING_ID,
    ) -> Path:
        recording = tmp_path / "store" / recording_id
        for name, source in frames.items():
            target = recording / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, Path):
                shutil.copyfile(source, target)
            else:
                assert cv2.imwrite(str(target), source)
        recording.mkdir(parents=True, exist_ok=True)
        (recording / gps_name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(gps, Path):
            shutil.copyfile(gps, recording / gps_name)
        elif isinstance(gps, str):
            (recording / gps_name).write_text(gps, encoding="utf-8")
        return recording

    return build
