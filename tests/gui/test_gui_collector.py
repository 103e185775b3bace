"""Garbage cycles are collected on the GUI thread, never on a worker thread."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from signpipe_gui.gui_collector import GuiThreadCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collections() -> Iterator[list[str]]:
    """The names of the threads that ran a collection during the test."""
    seen: list[str] = []

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(threading.current_thread().name)

    gc.callbacks.append(on_gc)
    yield seen
    gc.callbacks.remove(on_gc)


def test_cycles_made_on_a_worker_thread_are_collected_on_the_gui_thread(
    qapp: object, collections: list[str]
) -> None:
    # The suite's own fixture has a collector running; this test drives its own.
    collector = GuiThreadCollector(interval_ms=60_000)
    collector.start()
    try:

        def make_garbage() -> None:
            for _ in range(gc.get_threshold()[0] * 20):
                _Cycle()

        worker = threading.Thread(target=make_garbage, name="extraction-test")
        worker.start()
        worker.join()
        assert collections == []
        assert gc.get_count()[0] > gc.get_threshold()[0]

        freed = collector.collect_due()

        assert freed > 0
        assert collections == [threading.current_thread().name]
        assert not gc.isenabled()
    finally:
        collector.stop()
        gc.disable()  # the suite's collector keeps it off until its teardown
