"""Start the same work in several threads at the same moment (processes starting together)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def run_at_once(work: Callable[[T], object], args: Sequence[T], timeout: float = 60) -> list[
    BaseException
]:
    """Run `work(arg)` for each arg in its own thread, all released by one barrier; the
    exceptions they raised (none is the goal)."""
    barrier = threading.Barrier(len(args))
    errors: list[BaseException] = []

    def start(arg: T) -> None:
        barrier.wait(10)
        try:
            work(arg)
        except BaseException as exc:  # surfaced to the caller
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors
