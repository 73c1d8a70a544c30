"""Every read has a total deadline and stop() is prompt, through real pcscd + vpcd: a card that
answers slowly or stops answering mid-read cannot hold the driver, and nothing is published
after stop()."""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback

import pytest

from drivers.base import HealthChanged
from drivers.card.interface import (
    CardFailure,
    CardInserted,
    CardRead,
    CardReadError,
    CardReadFailed,
    CardRemoved,
)
from drivers.card.pcsc import PcscCardReader
from simulators.card.applet import SscCard
from tests.drivers.card.conftest import EventLog, started
from tests.harness.waiting import wait_for

READER = "Virtual PCD 00 00"
STOP_LIMIT_S = 1.0  # the contract: stop() returns within a second


def _card(population) -> SscCard:
    citizen = next(
        population.citizen(i) for i in range(population.size)
        if population.citizen(i).current_card.generation == 2
    )
    return SscCard.from_citizen(citizen)


def _read_workers() -> list[threading.Thread]:
    return [
        t for t in threading.enumerate()
        if t.name.startswith("card-read-worker") and t.is_alive()
    ]


def _stacks() -> str:
    frames = sys._current_frames()
    return "\n".join(
        f"{t.name}:\n" + "".join(traceback.format_stack(frames[t.ident]))
        for t in _read_workers() if t.ident in frames
    )


def _wait_workers_gone() -> None:
    wait_for(
        lambda: not _read_workers(), "abandoned read workers to end", timeout=10,
        diagnostics=_stacks,
    )


@pytest.fixture
def slow_reader(pcscd):
    """A started reader with a 1 s read deadline, health ok."""
    with started(PcscCardReader(READER, poll_timeout_s=0.2, read_timeout_s=1.0)) as pair:
        yield pair


@pytest.mark.parametrize(
    ("misbehaviour", "apdus_processed"),
    [({"latency_s": 2.0}, 1), ({"stall_after_apdus": 3}, 3)],
    ids=["answers-every-2s", "stops-answering-mid-read"],
)
def test_a_card_too_slow_for_the_deadline_fails_as_unresponsive(
    slow_reader, card_slot, population, misbehaviour, apdus_processed
):
    driver, log = slow_reader
    card = _card(population)

    card_slot.insert(card, **misbehaviour)
    assert isinstance(log.next(), CardInserted)
    # 16 APDUs at 2 s each would take 32 s; the deadline ends the read after 1 s.
    failed = log.next(timeout=5.0)

    assert isinstance(failed, CardReadFailed), failed
    assert failed.failure is CardFailure.UNRESPONSIVE
    assert "1 s" in failed.detail
    assert driver.health().code == "ok"  # the reader is fine; the card is not
    card_slot.remove()
    assert isinstance(log.next(), CardRemoved)
    _wait_workers_gone()
    # The abandoned worker sent nothing after the APDU it was stuck in at its deadline.
    assert len(card.commands) == apdus_processed
    assert log.pending() == []


def test_stop_returns_within_a_second_mid_apdu_and_nothing_is_published_after(
    pcscd, card_slot, population
):
    # The default 5 s deadline: stop() must not wait for it, nor for the APDU in progress.
    driver = PcscCardReader(READER, poll_timeout_s=0.2)
    log = EventLog()
    driver.subscribe(log)
    driver.start()
    assert log.next(HealthChanged).health.code == "ok"
    link = card_slot.insert(_card(population), latency_s=2.0)
    assert isinstance(log.next(), CardInserted)
    wait_for(_read_workers, "the read to be under way")

    stopped = threading.Event()
    threading.Thread(target=lambda: (driver.stop(), stopped.set()), daemon=True).start()

    assert stopped.wait(timeout=STOP_LIMIT_S), "stop() did not return within a second"
    # The card answers its APDUs for a while yet: the worker would go on to read it all.
    link.close()
    card_slot.link = None
    _wait_workers_gone()
    assert log.pending() == []  # no CardRead, CardReadFailed or CardRemoved after stop()
    driver.stop()  # idempotent


def test_stop_is_prompt_while_a_card_that_stopped_answering_holds_the_read(
    pcscd, card_slot, population
):
    driver = PcscCardReader(READER, poll_timeout_s=30.0, read_timeout_s=30.0)
    log = EventLog()
    driver.subscribe(log)
    driver.start()
    assert log.next(HealthChanged).health.code == "ok"
    card_slot.insert(_card(population), stall_after_apdus=0)
    assert isinstance(log.next(), CardInserted)
    assert card_slot.link.stalled.wait(10), "the card never stalled"

    stopped = threading.Event()
    threading.Thread(target=lambda: (driver.stop(), stopped.set()), daemon=True).start()

    assert stopped.wait(timeout=STOP_LIMIT_S)
    card_slot.remove()
    _wait_workers_gone()
    assert log.pending() == []


def test_a_restart_after_stop_reads_again_and_the_old_run_stays_silent(
    pcscd, card_slot, population
):
    driver = PcscCardReader(READER, poll_timeout_s=0.2, read_timeout_s=1.0)
    log = EventLog()
    driver.subscribe(log)
    driver.start()
    assert log.next(HealthChanged).health.code == "ok"
    card_slot.insert(_card(population), stall_after_apdus=2)
    assert isinstance(log.next(), CardInserted)
    driver.stop()
    card_slot.remove()
    _wait_workers_gone()
    assert log.pending() == []

    driver.start()
    try:
        assert log.next(HealthChanged).health.code == "ok"
        card_slot.insert(_card(population))
        assert isinstance(log.next(), CardInserted)
        assert isinstance(log.next(), CardRead)
    finally:
        driver.stop()


def test_read_on_the_callers_thread_has_the_deadline_too(pcscd, card_slot, population):
    card_slot.insert(_card(population), stall_after_apdus=1, wait=True)
    driver = PcscCardReader(READER, read_timeout_s=1.0)

    with pytest.raises(CardReadError) as excinfo:
        driver.read()

    assert excinfo.value.failure is CardFailure.UNRESPONSIVE
    card_slot.remove()
    _wait_workers_gone()


def test_stop_is_prompt_even_when_pcscd_itself_is_frozen(pcscd, pcscd_process, card_slot):
    # SIGSTOP: pcscd accepts connections but answers nothing, so every PC/SC call of the
    # monitor (the status wait, establishing a context, cancelling) would block.
    driver = PcscCardReader(READER, poll_timeout_s=0.2)
    log = EventLog()
    driver.subscribe(log)
    driver.start()
    assert log.next(HealthChanged).health.code == "ok"
    os.kill(pcscd_process.pid, signal.SIGSTOP)
    try:
        stopped = threading.Event()
        threading.Thread(target=lambda: (driver.stop(), stopped.set()), daemon=True).start()
        assert stopped.wait(timeout=STOP_LIMIT_S), "stop() waited for a frozen pcscd"
    finally:
        os.kill(pcscd_process.pid, signal.SIGCONT)
    wait_for(
        lambda: not any(t.name == "card-reader-pcsc" for t in threading.enumerate()),
        "the abandoned monitor to end once pcscd answers again",
    )
    assert log.pending() == []


def test_a_card_left_in_across_stop_and_start_is_reported_again(pcscd, card_slot, population):
    card_slot.insert(_card(population), wait=True)
    driver = PcscCardReader(READER, poll_timeout_s=0.2)
    log = EventLog()
    driver.subscribe(log)
    try:
        for _ in range(2):
            driver.start()
            assert log.next(HealthChanged).health.code == "ok"
            assert isinstance(log.next(), CardInserted)
            assert isinstance(log.next(), CardRead)
            driver.stop()
            assert log.pending() == []  # no CardRemoved made up by stop()
    finally:
        driver.stop()
