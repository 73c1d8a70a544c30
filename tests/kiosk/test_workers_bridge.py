"""Worker threads and the hardware bridge: off-thread work, results back on 'the UI thread'."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from drivers.base import DeviceEvent
from drivers.card.fake import FakeCardReader
from drivers.card.interface import CardInserted, CardRead, CardRemoved
from kiosk.flow.ports import Outcome
from kiosk.ui.bridge import HardwareBridge
from kiosk.workers import WorkerPool
from tests.kiosk.fakes import sample_card


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


def test_the_bridge_moves_driver_events_in_order() -> None:
    ui = UiThread()
    received: list[tuple[type[DeviceEvent], bool]] = []
    main = threading.get_ident()
    reader = FakeCardReader()
    reader.subscribe(HardwareBridge(ui.post, lambda e: received.append(
        (type(e), threading.get_ident() == main))))

    def driver_thread() -> None:  # the driver publishes on its own thread
        reader.insert(sample_card())
        reader.remove()

    thread = threading.Thread(target=driver_thread)
    thread.start()
    thread.join(10)
    assert received == []  # nothing ran on the driver's thread
    for _ in range(3):
        ui.run_one()
    assert received == [(CardInserted, True), (CardRead, True), (CardRemoved, True)]
