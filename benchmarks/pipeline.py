"""Pipeline speed: frames per second of the detect stage on real frames at 1280x720.

Run from the repository::

    .venv/bin/python benchmarks/pipeline.py              # every measurement
    .venv/bin/python benchmarks/pipeline.py detect_fps   # only the named ones

The frames are the real photos and camera frames in ``../shared/data/realworld``
(CC0 street photos, a comma2k19 dashcam frame, two 4K action-camera frames), each
resized to 1280x720 and stored as JPEG, so the measurement includes decoding the
file as the detect stage does. The stage uses every core, as in a pipeline run.

More measurements plug in through ``MEASUREMENTS`` (name -> function returning the
lines to print).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from signpipe_gui.backend.pipeline.colour_shape import ColourShapeDetector
from signpipe_gui.backend.pipeline.detect import detect_frames
from signpipe_gui.backend.pipeline.types import Frame

REALWORLD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "realworld"
FRAME_SIZE = (1280, 720)


def real_frame_files(folder: Path, data: Path = REALWORLD) -> list[Path]:
    """The real images resized to 1280x720 and written as JPEG into ``folder``."""
    sources = sorted((data / "road-sign-detection-cc0" / "images").glob("*.png"))
    sources.append(data / "comma2k19-example-segment" / "preview.png")
    sources += sorted((data / "mapillary-tools-sample").glob("*.JPG"))
    files = []
    for source in sources:
        image = cv2.imread(str(source), cv2.IMREAD_COLOR)
        if image is None:
            continue
        target = folder / f"{source.stem}.jpg"
        cv2.imwrite(
            str(target), cv2.resize(image, FRAME_SIZE), [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
        files.append(target)
    if not files:
        raise SystemExit(f"No real frames found under {data}")
    return files


class DetectSpeed(NamedTuple):
    """The detect stage's speed: wall-clock rate, threads, and CPU time per frame."""

    fps: float
    threads: int
    cpu_ms_per_frame: float


def measure_detect_fps(
    frame_count: int = 300,
    workers: int | None = None,
    data: Path = REALWORLD,
    repeats: int = 5,
) -> DetectSpeed:
    """Frames per second of the detect stage (built-in detector) on all cores.

    The median of ``repeats`` runs. The CPU time per frame is also reported because,
    unlike the rate, it hardly moves when other work shares the machine.
    """
    workers = workers or os.cpu_count() or 1
    rates, cpu = [], []
    with tempfile.TemporaryDirectory(prefix="signpipe-bench-") as tmp:
        files = real_frame_files(Path(tmp), data)
        frames = [
            Frame(i, files[i % len(files)], files[i % len(files)].name, float(i))
            for i in range(frame_count)
        ]
        detector = ColourShapeDetector()
        detect_frames(frames[: len(files)], detector, workers=workers)  # warm-up

        for _ in range(repeats):
            started, cpu_started = time.perf_counter(), time.process_time()
            detect_frames(frames, detector, workers=workers)
            rates.append(frame_count / (time.perf_counter() - started))
            cpu.append((time.process_time() - cpu_started) / frame_count)
    return DetectSpeed(statistics.median(rates), workers, statistics.median(cpu) * 1000)


def _detect_fps_lines(args: argparse.Namespace) -> list[str]:
    all_cores = measure_detect_fps(args.frames)
    one_core = measure_detect_fps(args.frames, workers=1)
    return [
        f"detect stage, built-in detector, {FRAME_SIZE[0]}x{FRAME_SIZE[1]} JPEG "
        f"frames, {args.frames} frames, median of 5 runs:",
        f"  {all_cores.fps:.1f} frames/s on {all_cores.threads} threads "
        f"({all_cores.cpu_ms_per_frame:.1f} ms CPU per frame)",
        f"  {one_core.fps:.1f} frames/s on 1 thread "
        f"({one_core.cpu_ms_per_frame:.1f} ms CPU per frame)",
    ]


def measure_dispatch_latency(runs: int = 20) -> tuple[float, float, float]:
    """Extraction done -> task started on a real worker: (median, p90, dispatch) s.

    Starts a private embedded redis-server and a ``signpipe worker`` in a temporary
    data folder, dispatches ``runs`` one-frame recordings one after another, and
    takes the time from just before ``dispatch_pipeline`` to the ``started_at`` the
    task writes into status.json. The third figure is the median time the
    dispatch call itself took.
    """
    import json
    import shutil
    import signal
    import statistics
    import subprocess

    from signpipe_gui.backend.dispatch import dispatch_pipeline
    from signpipe_gui.backend.redis_server import (
        ensure_embedded_redis,
        stop_embedded_redis,
    )
    from signpipe_gui.backend.settings import Settings

    photo = sorted((REALWORLD / "road-sign-detection-cc0" / "images").glob("*.png"))[0]
    with tempfile.TemporaryDirectory(prefix="signpipe-bench-") as tmp:
        data, store = Path(tmp) / "data", Path(tmp) / "store"
        store.mkdir()
        server = ensure_embedded_redis(data)
        settings = Settings(data_dir=data, store=store, redis_url=server.url)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SIGNPIPE_")},
            "SIGNPIPE_DATA_DIR": str(data),
            "SIGNPIPE_STORE": str(store),
            "SIGNPIPE_REDIS_URL": server.url,
        }
        log = Path(tmp) / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "signpipe_gui", "worker", "--concurrency", "1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        latencies, dispatch_times = [], []
        try:
            _wait(lambda: " ready." in log.read_text(), 60)
            for run in range(runs + 1):
                recording_id = f"2024_05_20_12_00_{run:02d}_000"
                camera = store / recording_id / "camera"
                camera.mkdir(parents=True)
                shutil.copyfile(photo, camera / "000000.png")
                status_file = store / recording_id / "status.json"

                started = time.time()
                result = dispatch_pipeline(settings, recording_id)
                dispatch_times.append(time.time() - started)
                if not result.queued:
                    raise SystemExit(f"Dispatch failed: {result.reason}")
                _wait(lambda f=status_file: _status(f) in {"done", "error"}, 60)
                task_started = json.loads(status_file.read_text())["started_at"]
                if run:  # the first run warms the worker up
                    latencies.append(task_started - started)
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            stop_embedded_redis(data)

    latencies.sort()
    p90 = latencies[min(len(latencies) - 1, int(0.9 * len(latencies)))]
    return statistics.median(latencies), p90, statistics.median(dispatch_times)


def _status(status_file: Path) -> str | None:
    import json

    try:
        return json.loads(status_file.read_text()).get("status")
    except (OSError, ValueError):
        return None


def _wait(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("Timed out waiting for the worker")
        time.sleep(0.005)


def _dispatch_latency_lines(args: argparse.Namespace) -> list[str]:
    median, p90, dispatch = measure_dispatch_latency(args.runs)
    return [
        f"dispatch latency (extraction done -> task started), {args.runs} runs, "
        "one prefork worker:",
        f"  median {median * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms",
        f"  dispatch_pipeline call itself: median {dispatch * 1000:.1f} ms",
    ]


MEASUREMENTS: dict[str, Callable[[argparse.Namespace], list[str]]] = {
    "detect_fps": _detect_fps_lines,
    "dispatch_latency": _dispatch_latency_lines,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[[], *MEASUREMENTS], default=[])
    parser.add_argument("--frames", type=int, default=300, help="frames per run")
    parser.add_argument("--runs", type=int, default=20, help="dispatches to time")
    args = parser.parse_args(argv)

    for name in args.names or list(MEASUREMENTS):
        for line in MEASUREMENTS[name](args):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
