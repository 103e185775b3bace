"""The extraction pool's threads run below the window's CPU priority."""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from signpipe_gui.widgets.extraction_pool import EXTRACTION_NICE, ExtractionPool


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


class NiceProbe:
    """A job that reports the nice value of its thread and of a thread it starts."""

    job_id = "nice-probe"

    def run(self) -> dict[str, Any]:
        seen: dict[str, int] = {}
        helper = threading.Thread(target=lambda: seen.update(helper=_nice()))
        helper.start()
        helper.join()
        return {"job_id": self.job_id, "status": "done", "own": _nice(), **seen}

    def cancel(self) -> None:
        pass


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="a nice value per thread is Linux's"
)
def test_extraction_threads_and_the_threads_they_start_yield_the_cpu(
    qtbot: QtBot,
) -> None:
    window_nice = _nice()
    pool = ExtractionPool(1)
    with qtbot.waitSignal(pool.job_ended, timeout=5000) as ended:
        pool.submit(NiceProbe())

    final = ended.args[0]
    expected = min(19, window_nice + EXTRACTION_NICE)
    assert final["own"] == final["helper"] == expected
    assert _nice() == window_nice
    qtbot.waitUntil(lambda: not pool.busy)
