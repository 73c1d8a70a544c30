"""A reader another program holds: a real second PC/SC client (its own process) connects with
SCARD_SHARE_EXCLUSIVE, or keeps a transaction open. Health says degraded (`reader-busy`), the
read is retried with backoff, and it succeeds once the other program lets go."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from drivers.base import HealthChanged, HealthState
from drivers.card.interface import (
    CardFailure,
    CardHealthCode,
    CardInserted,
    CardRead,
    CardReadFailed,
    CardRemoved,
)
from drivers.card.pcsc import PcscCardReader
from simulators.card.applet import SscCard
from tests.drivers.card.conftest import EventLog

READER = "Virtual PCD 00 00"

# The other program: holds the card until its stdin closes.
HOLDER = """
import sys
from smartcard import scard
reader, mode = sys.argv[1], sys.argv[2]
_, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
share = scard.SCARD_SHARE_EXCLUSIVE if mode == "exclusive" else scard.SCARD_SHARE_SHARED
hresult, card, _ = scard.SCardConnect(
    context, reader, share, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
)
if hresult == scard.SCARD_S_SUCCESS and mode == "transaction":
    hresult = scard.SCardBeginTransaction(card)
print("held" if hresult == scard.SCARD_S_SUCCESS else f"failed {hresult:#x}", flush=True)
sys.stdin.read()
if mode == "transaction":
    scard.SCardEndTransaction(card, scard.SCARD_LEAVE_CARD)
scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
scard.SCardReleaseContext(context)
print("released", flush=True)
"""


@contextmanager
def _held(mode: str) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, READER, mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        _release(holder)


def _release(holder: subprocess.Popen[str]) -> None:
    if holder.poll() is None:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        assert holder.stdout.readline().strip() == "released"
        holder.wait(timeout=10)


def _card(population) -> SscCard:
    citizen = next(
        population.citizen(i) for i in range(population.size)
        if population.citizen(i).current_card.generation == 2
    )
    return SscCard.from_citizen(citizen)


def _started(**options) -> tuple[PcscCardReader, EventLog]:
    driver = PcscCardReader(READER, poll_timeout_s=0.2, **options)
    log = EventLog()
    driver.subscribe(log)
    driver.start()
    return driver, log


@pytest.mark.parametrize("mode", ["exclusive", "transaction"])
def test_a_reader_held_by_another_program_is_degraded_then_read(
    pcscd, card_slot, population, mode
):
    card = _card(population)
    card_slot.insert(card, wait=True)
    with _held(mode) as holder:
        # A transaction never ends in pcsc-lite: the read deadline is what notices it.
        driver, log = _started(read_timeout_s=1.0, busy_timeout_s=60.0)
        try:
            assert log.next(HealthChanged).health.code == "ok"
            assert isinstance(log.next(), CardInserted)
            busy = log.next()
            assert isinstance(busy, HealthChanged), busy
            assert (busy.health.state, busy.health.code) == (
                HealthState.DEGRADED, CardHealthCode.READER_BUSY,
            )
            assert driver.health().code == "reader-busy"
            assert card.commands == []  # nothing reached the card meanwhile

            _release(holder)
            recovered = log.next()
            assert isinstance(recovered, HealthChanged), recovered
            assert recovered.health.code == "ok"
            read = log.next()
            assert isinstance(read, CardRead), read
            assert read.data.citizen_id == card.profile.citizen_id
        finally:
            driver.stop()


def test_a_reader_busy_for_longer_than_the_limit_fails_the_read_and_recovers_on_removal(
    pcscd, card_slot, population
):
    card_slot.insert(_card(population), wait=True)
    with _held("exclusive"):
        driver, log = _started(busy_timeout_s=1.0)
        try:
            assert log.next(HealthChanged).health.code == "ok"
            assert isinstance(log.next(), CardInserted)
            assert log.next(HealthChanged).health.code == "reader-busy"
            failed = log.next()
            assert isinstance(failed, CardReadFailed), failed
            assert failed.failure is CardFailure.READER_UNAVAILABLE
            assert "another program" in failed.detail
            assert driver.health().code == "reader-busy"
        except BaseException:
            driver.stop()
            raise
    try:
        card_slot.remove()
        assert isinstance(log.next(), CardRemoved)
        assert log.next(HealthChanged).health.code == "ok"
    finally:
        driver.stop()
