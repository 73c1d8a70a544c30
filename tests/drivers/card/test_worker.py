"""Workers that a caller can abandon: results, errors, deadlines, interrupts, late cleanup."""

from __future__ import annotations

import threading

import pytest

from common.clock import Deadline
from drivers.card.worker import Abandoned, CallTimedOut, Worker, call_within


def test_the_result_and_the_error_come_back_to_the_caller():
    assert Worker(lambda w: 42, "w").wait(Deadline(5)) == 42
    with pytest.raises(KeyError):
        Worker(lambda w: {}["x"], "w").wait(Deadline(5))


def test_a_call_past_its_deadline_is_abandoned_with_its_phase_and_cleaned_up_late():
    release = threading.Event()
    late: list[str] = []
    cleaned = threading.Event()

    def slow(worker: Worker[str]) -> str:
        worker.phase = "apdu"
        release.wait()
        return "context"

    worker = Worker(slow, "slow", on_late=lambda r: (late.append(r), cleaned.set()))
    with pytest.raises(CallTimedOut) as excinfo:
        worker.wait(Deadline(0.05))
    assert excinfo.value.phase == "apdu" and worker.cancelled.is_set()

    release.set()
    assert cleaned.wait(5) and late == ["context"]
    assert worker.join(5)


def test_interrupt_wakes_the_caller_at_once_and_the_worker_stops_at_its_next_step():
    steps: list[int] = []
    gate = threading.Event()

    def stepping(worker: Worker[None]) -> None:
        for step in range(1000):
            gate.wait()
            worker.check()
            steps.append(step)

    worker = Worker(stepping, "stepping")
    threading.Timer(0.05, worker.interrupt).start()
    with pytest.raises(CallTimedOut):
        worker.wait(Deadline(30))  # returns on the interrupt, long before 30 s
    gate.set()
    assert worker.join(5)
    assert steps == []  # it checked before its first step and raised Abandoned


def test_abandoned_is_raised_by_check_once_cancelled():
    worker = Worker(lambda w: None, "w")
    worker.wait(Deadline(5))
    worker.check()
    worker.cancelled.set()
    with pytest.raises(Abandoned):
        worker.check()


def test_call_within():
    assert call_within(lambda: "ok", 5, "quick") == "ok"
    never = threading.Event()
    with pytest.raises(CallTimedOut):
        call_within(never.wait, 0.05, "stuck")
    never.set()


def test_a_worker_thread_runs_calls_one_after_another_on_one_thread():
    from drivers.card.worker import WorkerThread

    pool = WorkerThread("test-worker-thread")
    names = [
        pool.submit(lambda w: threading.current_thread().ident).wait(Deadline(5))
        for _ in range(3)
    ]
    assert len(set(names)) == 1 and names[0] != threading.get_ident()
    pool.close()


def test_a_stuck_call_keeps_its_thread_and_the_next_gets_a_new_one():
    from drivers.card.worker import WorkerThread

    pool = WorkerThread("test-worker-thread")
    release = threading.Event()
    stuck = pool.submit(lambda w: release.wait(10))
    with pytest.raises(CallTimedOut):
        stuck.wait(Deadline(0.05))
    assert pool.submit(lambda w: "next").wait(Deadline(5)) == "next"
    release.set()
    assert stuck.join(5)
    pool.close()
