"""Worker threads: off-thread work, results back on 'the UI thread'."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from kiosk.flow.ports import Outcome
from kiosk.workers import WorkerPool


class UiThread:
    """Stands in for Kivy's Clock: callables posted from anywhere run when drained here."""

    def __init__(self) -> None:
        self.posted: queue.Queue[Callable[[], None]] = queue.Queue()

    def post(self, fn: Callable[[], None]) -> None:
        self.posted.put(fn)

    def run_one(self) -> None:
        self.posted.get(timeout=10)()


def test_jobs_run_on_a_worker_and_report_on_the_ui_thread() -> None:
    ui = UiThread()
    pool = WorkerPool(ui.post)
    main = threading.get_ident()
    seen: list[tuple[str, object, bool]] = []

    def job() -> int:
        assert threading.get_ident() != main
        return 42

    def failing() -> int:
        raise ValueError("edge said no")

    pool.submit(job, lambda o: seen.append(("ok", o.value, threading.get_ident() == main)))
    pool.submit(failing, lambda o: seen.append(("err", type(o.error).__name__,
                                                threading.get_ident() == main)))
    ui.run_one()
    ui.run_one()
    assert sorted(seen) == [("err", "ValueError", True), ("ok", 42, True)]
    assert pool.close(timeout_s=5)


def test_close_lets_queued_jobs_finish_and_drops_later_ones() -> None:
    ui = UiThread()
    pool = WorkerPool(ui.post, workers=1)
    gate = threading.Event()
    ran: list[str] = []
    done: list[Outcome[str]] = []
    pool.submit(lambda: gate.wait(10) and "busy", done.append)  # holds the only worker
    pool.submit(lambda: "ended", done.append)  # queued behind it (the session's DELETE)
    # The worker is provably still busy, so close cannot have finished: it only stops intake.
    assert not pool.close(timeout_s=0)
    pool.submit(lambda: ran.append("late") or "late", done.append)

    gate.set()
    assert pool.close(timeout_s=10)  # and now every worker has exited
    ui.run_one()
    ui.run_one()
    assert [o.value for o in done] == ["busy", "ended"]
    assert ran == [] and ui.posted.empty()  # the job submitted after close never ran
