"""Extracting independent members on several threads, with one progress reporter."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

from ..errors import JobCancelled

T = TypeVar("T")
ProgressTick = Callable[[int], None]
REPORT_INTERVAL = 0.1


class _Stopped(Exception):
    """Another worker failed; this one stops quietly."""


def run_members(
    members: Sequence[T],
    work: Callable[[T, ProgressTick], None],
    *,
    workers: int,
    on_progress: Callable[[int, int], None],
    cancel: threading.Event,
) -> None:
    """Run ``work(member, tick)`` for every member on up to ``workers`` threads.

    The calling thread works too and is the only one that calls ``on_progress``,
    after each of its members and each tick. The first error stops all workers
    between chunks and is raised here; so is JobCancelled when ``cancel`` is set.
    """
    queue = deque(members)
    slots = max(1, min(workers, len(members) // 2))
    files = [0] * slots
    done = [0] * slots
    stop = threading.Event()
    errors: list[BaseException] = []

    def report() -> None:
        on_progress(sum(files), sum(done))

    def loop(slot: int, reporter: bool) -> None:
        def tick(count: int) -> None:
            done[slot] += count
            if stop.is_set():
                raise _Stopped
            if cancel.is_set():
                raise JobCancelled()
            if reporter:
                report()

        while not stop.is_set():
            if cancel.is_set():
                raise JobCancelled()
            try:
                member = queue.popleft()
            except IndexError:
                return
            work(member, tick)
            files[slot] += 1
            if reporter:
                report()

    def guarded(slot: int, reporter: bool) -> None:
        try:
            loop(slot, reporter)
        except _Stopped:
            pass
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [
        threading.Thread(target=guarded, args=(slot, False), name=f"extract-{slot}")
        for slot in range(1, slots)
    ]
    for thread in threads:
        thread.start()
    guarded(0, True)
    for thread in threads:
        # Keep reporting while the others finish (one may hold a large member).
        while thread.is_alive():
            thread.join(REPORT_INTERVAL)
            if not errors:
                report()

    if errors:
        # A real failure explains more than the cancel it may have raced with.
        errors.sort(key=lambda exc: isinstance(exc, JobCancelled))
        raise errors[0]
    report()
