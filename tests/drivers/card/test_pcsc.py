"""PcscCardReader through the real stack: pcscd + vsmartcard-vpcd + pyscard + our virtual card."""

from __future__ import annotations

import threading

import pytest

from drivers.base import HealthChanged
from drivers.card.interface import (
    CardFailure,
    CardInserted,
    CardRead,
    CardReader,
    CardReadError,
    CardReadFailed,
    CardRemoved,
)
from drivers.card.pcsc import PcscCardReader
from simulators.card.applet import ForeignCard, SscCard
from tests.drivers.card.conftest import EventLog


def _first(population, predicate, start=0):
    return next(
        population.citizen(i) for i in range(start, population.size)
        if predicate(population.citizen(i))
    )


def _long_name_citizen(population):
    """A citizen whose name does not fit the 30 GBK bytes of tag 09 (Uyghur names do not)."""
    return _first(population, lambda c: len(c.name.encode("gbk")) > 30)


def _insert_and_expect(log: EventLog, slot, card, **options):
    slot.insert(card, **options)
    inserted = log.next()
    assert isinstance(inserted, CardInserted), inserted
    assert inserted.atr == card.atr.hex().upper()
    return log.next()


def _remove_and_expect_removed(log: EventLog, slot):
    slot.remove()
    removed = log.next()
    assert isinstance(removed, CardRemoved), removed
    assert removed.reader == "Virtual PCD 00 00"


def test_it_keeps_the_card_reader_contract():
    assert isinstance(PcscCardReader(), CardReader)


@pytest.mark.parametrize("protocol", ["T=0", "T=1"])
def test_reads_a_generation_2_card(reader, card_slot, population, protocol):
    _, log = reader
    citizen = _first(population, lambda c: c.current_card.generation == 2)
    card = SscCard.from_citizen(citizen, protocol=protocol)

    event = _insert_and_expect(log, card_slot, card)

    assert isinstance(event, CardRead), event
    data = event.data
    assert data.protocol == protocol
    assert (data.citizen_id, data.name) == (citizen.citizen_id, citizen.name)
    assert (data.gender, data.birth_date, data.ethnicity) == (
        citizen.gender, citizen.birth_date, citizen.ethnicity
    )
    assert data.birthplace == citizen.region
    sim_card = citizen.current_card
    assert data.card_number == sim_card.card_number
    assert data.card_id_code == sim_card.card_id_code
    assert data.init_org_code == sim_card.init_org_code
    assert (data.issue_date, data.expiry_date) == (sim_card.issued_on, sim_card.expires_on)
    assert (data.spec_version, data.generation) == ("2.00", 2)
    assert data.warnings == ()
    assert data.atr == card.atr.hex().upper()
    instructions = {c[1] for c in card.commands}
    assert 0x20 not in instructions, "VERIFY must never be sent"
    # T=0 needs GET RESPONSE after SELECT; T=1 never does.
    assert (0xC0 in instructions) == (protocol == "T=0")

    _remove_and_expect_removed(log, card_slot)


def test_reads_a_generation_1_card_without_name_extension(reader, card_slot, population):
    _, log = reader
    citizen = _first(population, lambda c: c.current_card.generation == 1)
    card = SscCard.from_citizen(citizen)

    event = _insert_and_expect(log, card_slot, card)

    assert isinstance(event, CardRead), event
    assert event.data.generation == 1
    assert event.data.name == citizen.name
    # The driver asked for tag 4E, and the card's 6A83 was taken as "absent".
    assert any(c[1] == 0xB2 and c[2] == 0x4E for c in card.commands)
    _remove_and_expect_removed(log, card_slot)


def test_generation_3_needs_a_psam(reader, card_slot, population):
    _, log = reader
    citizen = _first(population, lambda c: c.current_card.generation == 3)

    event = _insert_and_expect(log, card_slot, SscCard.from_citizen(citizen))

    assert isinstance(event, CardReadFailed), event
    assert event.failure is CardFailure.NEEDS_PSAM
    assert "6982" in event.detail
    _remove_and_expect_removed(log, card_slot)


def test_a_long_uyghur_name_is_joined_from_the_extension(reader, card_slot, population):
    _, log = reader
    citizen = _long_name_citizen(population)
    card = SscCard.from_citizen(citizen, generation=2)

    event = _insert_and_expect(log, card_slot, card)

    assert isinstance(event, CardRead), event
    assert event.data.name == citizen.name
    assert "·" in event.data.name
    assert citizen.name not in repr(event.data)
    _remove_and_expect_removed(log, card_slot)


@pytest.mark.parametrize("pull_after", [0, 1, 7])
def test_a_card_pulled_mid_read_fails_as_removed(reader, card_slot, population, pull_after):
    _, log = reader
    citizen = _first(population, lambda c: c.current_card.generation == 2)
    card = SscCard.from_citizen(citizen)

    link = card_slot.insert(card, pull_after_apdus=pull_after)
    assert isinstance(log.next(), CardInserted)
    failed = log.next()
    removed = log.next()

    assert isinstance(failed, CardReadFailed), failed
    assert failed.failure is CardFailure.REMOVED
    assert isinstance(removed, CardRemoved), removed
    assert link.wait_closed(timeout=5) and link.close_reason == "pulled"
    assert link.apdus == pull_after
    assert not any(isinstance(e, CardRead) for e in log.pending())


def test_a_card_without_the_ssc_application_is_not_ssc(reader, card_slot):
    _, log = reader

    event = _insert_and_expect(log, card_slot, ForeignCard(protocol="T=1"))

    assert isinstance(event, CardReadFailed), event
    assert event.failure is CardFailure.NOT_SSC
    _remove_and_expect_removed(log, card_slot)


def test_a_card_without_a_valid_atr_is_unresponsive(reader, card_slot, population):
    _, log = reader
    card = SscCard.from_citizen(population.citizen(1))

    card_slot.insert(card, mute=True)
    inserted = log.next()
    failed = log.next()

    assert isinstance(inserted, CardInserted), inserted
    assert isinstance(failed, CardReadFailed), failed
    assert failed.failure is CardFailure.UNRESPONSIVE
    assert card.commands == []
    _remove_and_expect_removed(log, card_slot)


def test_a_slow_card_still_reads(reader, card_slot, population):
    _, log = reader
    citizen = _first(population, lambda c: c.current_card.generation == 2)

    event = _insert_and_expect(log, card_slot, SscCard.from_citizen(citizen), latency_s=0.01)

    assert isinstance(event, CardRead), event
    _remove_and_expect_removed(log, card_slot)


def test_a_card_replaced_without_waiting_is_removed_then_read(reader, card_slot, population):
    _, log = reader
    first = _first(population, lambda c: c.current_card.generation == 2)
    second = _first(population, lambda c: c.current_card.generation == 2, start=first.index + 1)

    assert isinstance(_insert_and_expect(log, card_slot, SscCard.from_citizen(first)), CardRead)
    # Replace without waiting for pcscd to see the removal: the new card queues at vpcd.
    card_slot.link.close()
    card_slot.link = None
    event = _insert_and_expect_after_removal(log, card_slot, SscCard.from_citizen(second))

    assert isinstance(event, CardRead), event
    assert event.data.citizen_id == second.citizen_id
    _remove_and_expect_removed(log, card_slot)


def _insert_and_expect_after_removal(log, slot, card):
    from simulators.card.vpcd_link import VpcdLink

    link = VpcdLink(card, "127.0.0.1", slot.port)
    link.start()
    slot.link = link
    assert isinstance(log.next(), CardRemoved)
    assert isinstance(log.next(), CardInserted)
    return log.next()


def test_read_on_the_callers_thread(reader, card_slot, population):
    driver, log = reader
    citizen = _first(population, lambda c: c.current_card.generation == 2)
    _insert_and_expect(log, card_slot, SscCard.from_citizen(citizen, protocol="T=1"))

    data = driver.read()

    assert data.citizen_id == citizen.citizen_id
    _remove_and_expect_removed(log, card_slot)
    with pytest.raises(CardReadError) as excinfo:
        driver.read()
    assert excinfo.value.failure is CardFailure.REMOVED


def test_read_without_monitoring_and_without_a_reader(pcscd, card_slot, population):
    citizen = _first(population, lambda c: c.current_card.generation == 2)
    card_slot.insert(SscCard.from_citizen(citizen), wait=True)

    assert PcscCardReader("Virtual PCD 00 00").read().name == citizen.name
    with pytest.raises(CardReadError) as excinfo:
        PcscCardReader("No Such Reader").read()
    assert excinfo.value.failure is CardFailure.READER_UNAVAILABLE


def test_a_card_already_present_at_start_is_read(pcscd, card_slot, population):
    citizen = _first(population, lambda c: c.current_card.generation == 2)
    card_slot.insert(SscCard.from_citizen(citizen), wait=True)
    driver = PcscCardReader("Virtual PCD 00 00")
    log = EventLog()
    driver.subscribe(log)
    driver.start()
    try:
        assert log.next(HealthChanged).health.code == "ok"
        assert isinstance(log.next(), CardInserted)
        event = log.next()
        assert isinstance(event, CardRead), event
    finally:
        driver.stop()
    assert driver.health().code == "ok"  # stop() does not make up a health change


def test_the_second_slot_and_the_first_reader_by_default(pcscd, population):
    from tests.simulators.card.vcard import CardSlot

    citizen = _first(population, lambda c: c.current_card.generation == 2)
    with CardSlot(pcscd.vpcd_port, slot=1) as slot:
        slot.insert(SscCard.from_citizen(citizen), wait=True)
        assert PcscCardReader("00 01").read().citizen_id == citizen.citizen_id
    default = PcscCardReader()
    default.start()
    try:
        _wait_health(default, "ok")
        assert default.reader == "Virtual PCD 00 00"
    finally:
        default.stop()


def test_a_missing_reader_is_reported_and_stop_is_prompt(pcscd):
    driver = PcscCardReader("No Such Reader", poll_timeout_s=5.0)
    log = EventLog()
    driver.subscribe(log)
    driver.start()
    health = log.next(HealthChanged).health
    assert (health.state, health.code) == ("missing", "reader-missing")
    assert driver.health() == health

    stopped = threading.Event()
    threading.Thread(target=lambda: (driver.stop(), stopped.set())).start()
    # Much less than the 5 s poll timeout: stop() does not wait for it.
    assert stopped.wait(timeout=2.0)
    driver.stop()  # idempotent


def test_stop_is_prompt_while_watching_a_reader(pcscd):
    # A poll timeout far beyond the test's limit: only SCardCancel can end the wait in time.
    # stop() comes right after the reader is found, when the thread may be just entering the
    # wait (a cancel that arrives before it is lost), so this also covers stop()'s re-cancel.
    driver = PcscCardReader("Virtual PCD 00 00", poll_timeout_s=30.0)
    log = EventLog()
    driver.subscribe(log)
    driver.start()
    assert log.next(HealthChanged).health.code == "ok"

    stopped = threading.Event()
    threading.Thread(target=lambda: (driver.stop(), stopped.set()), daemon=True).start()
    assert stopped.wait(timeout=2.0)


def _wait_health(driver: PcscCardReader, code: str, timeout: float = 10.0) -> None:
    changed = threading.Event()
    unsubscribe = driver.subscribe(
        lambda e: changed.set() if isinstance(e, HealthChanged) and e.health.code == code else None
    )
    try:
        if driver.health().code != code:
            assert changed.wait(timeout), f"health never became {code}: {driver.health()}"
    finally:
        unsubscribe()


@pytest.mark.parametrize("sw", ["6283", "6A81"])
def test_a_blocked_application_is_a_locked_card(reader, card_slot, population, sw):
    _, log = reader
    citizen = _first(population, lambda c: c.current_card.generation == 2)
    card = SscCard.from_citizen(citizen, locked=sw)

    event = _insert_and_expect(log, card_slot, card)

    assert isinstance(event, CardReadFailed), event
    assert event.failure is CardFailure.LOCKED
    assert sw in event.detail
    _remove_and_expect_removed(log, card_slot)


@pytest.mark.parametrize("name", ["王䶮", "李𠀀明"], ids=["gb18030-2-byte", "ext-b-4-byte"])
def test_names_that_need_gb18030_are_read_whole(reader, card_slot, population, name):
    _, log = reader
    citizen = _first(population, lambda c: c.current_card.generation == 2)

    event = _insert_and_expect(log, card_slot, SscCard.from_citizen(citizen, name=name))

    assert isinstance(event, CardRead), event
    assert event.data.name == name
    assert not event.data.name_truncated and event.data.warnings == ()
    _remove_and_expect_removed(log, card_slot)


def test_a_generation_1_card_that_cut_a_long_name_is_flagged(reader, card_slot, population):
    _, log = reader
    citizen = _long_name_citizen(population)

    event = _insert_and_expect(log, card_slot, SscCard.from_citizen(citizen, generation=1))

    assert isinstance(event, CardRead), event
    assert event.data.name_truncated
    assert citizen.name.startswith(event.data.name) and event.data.name != citizen.name
    _remove_and_expect_removed(log, card_slot)


def test_a_name_that_is_no_gb18030_is_an_unreadable_card(reader, card_slot, population):
    _, log = reader
    citizen = _first(population, lambda c: c.current_card.generation == 2)
    card = SscCard.from_citizen(citizen, raw_name=bytes.fromhex("D5C58120"))

    event = _insert_and_expect(log, card_slot, card)

    assert isinstance(event, CardReadFailed), event
    assert event.failure is CardFailure.UNREADABLE
    assert "name" in event.detail
    _remove_and_expect_removed(log, card_slot)
