"""Generation 3 cards with the PSAM in the SAM slot, and readers with several slots, through
the real stack: the card in "Virtual PCD 00 00", the PSAM (or a second card) in "... 00 01"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.base import HealthChanged, HealthState
from drivers.card.interface import (
    CardFailure,
    CardInserted,
    CardRead,
    CardReadFailed,
    CardRemoved,
    Pin,
    PinOutcome,
)
from drivers.card.multislot import MultiSlotCardReader
from drivers.card.pcsc import PcscCardReader
from simulators.card.applet import SscCard
from simulators.card.psam import PsamCard
from tests.drivers.card.conftest import EventLog, started
from tests.simulators.card.vcard import CardSlot

CARD_READER, SAM_READER = "Virtual PCD 00 00", "Virtual PCD 00 01"


@pytest.fixture(scope="module")
def slots(pcscd) -> Iterator[tuple[CardSlot, CardSlot]]:
    with CardSlot(pcscd.vpcd_port, slot=0) as card, CardSlot(pcscd.vpcd_port, slot=1) as sam:
        yield card, sam


@pytest.fixture(scope="module")
def gen3_reader(slots) -> Iterator[tuple[PcscCardReader, EventLog]]:
    """Configured as a terminal with a SAM slot: reader_name None must still skip it."""
    with started(PcscCardReader(None, poll_timeout_s=0.2, sam_reader=SAM_READER)) as pair:
        yield pair


def _gen3(population, protocol="T=0", **options) -> SscCard:
    citizen = next(
        population.citizen(i) for i in range(population.size)
        if population.citizen(i).current_card.generation == 3
    )
    return SscCard.from_citizen(citizen, protocol=protocol, **options)


def _read(log: EventLog, slot: CardSlot, card) -> object:
    slot.insert(card)
    inserted = log.next()
    assert isinstance(inserted, CardInserted), inserted
    return log.next()


def _out(log: EventLog, slot: CardSlot) -> None:
    slot.remove()
    assert isinstance(log.next(CardRemoved), CardRemoved)


def test_the_sam_slot_is_never_watched(gen3_reader):
    driver, _ = gen3_reader
    assert driver.reader == CARD_READER


@pytest.mark.parametrize(("card_protocol", "psam_protocol"), [("T=0", "T=0"), ("T=1", "T=1"),
                                                              ("T=0", "T=1")])
def test_a_generation_3_card_reads_whole_with_the_psam(
    gen3_reader, slots, population, card_protocol, psam_protocol,
):
    driver, log = gen3_reader
    card_slot, sam_slot = slots
    psam = PsamCard(protocol=psam_protocol)
    sam_slot.insert(psam, wait=True)
    card = _gen3(population, card_protocol)
    try:
        event = _read(log, card_slot, card)

        assert isinstance(event, CardRead), event
        data = event.data
        assert data.generation == 3 and data.psam_authenticated
        assert data.init_org_code == card.profile.init_org_code  # EF05's protected item too
        assert (data.citizen_id, data.name) == (card.profile.citizen_id, card.profile.name)
        assert event.slot == "contact"
        instructions = [c[1] for c in card.commands]
        assert 0x88 in instructions and 0x82 in instructions and 0x20 not in instructions
        assert {0x84, 0x82, 0x88} <= {c[1] for c in psam.commands}
        _out(log, card_slot)
        # PIN operations work on a generation 3 card as on any other.
        assert driver.verify_pin(Pin("123456")).outcome is PinOutcome.REMOVED  # card gone
    finally:
        sam_slot.remove()
    assert not [e for e in log.pending() if not isinstance(e, HealthChanged)]  # PSAM: no events


def test_without_a_psam_the_unprotected_fields_come_with_needs_psam(
    gen3_reader, slots, population,
):
    driver, log = gen3_reader
    card_slot, _ = slots
    card = _gen3(population)

    event = _read(log, card_slot, card)

    assert isinstance(event, CardReadFailed), event
    assert event.failure is CardFailure.NEEDS_PSAM
    assert "PSAM" in event.detail and "6982" in event.detail
    partial = event.partial
    assert partial is not None and partial.generation == 3
    assert partial.card_number == card.profile.card_number
    assert partial.card_id_code == card.profile.card_id_code
    assert card.profile.citizen_id not in repr(event)
    # The card was read as far as it goes: the PIN can still be checked on it.
    assert driver.pin_tries_left().tries_left == 3
    _out(log, card_slot)


def test_a_psam_with_another_issuers_keys_fails_card_authentication(
    gen3_reader, slots, population,
):
    _, log = gen3_reader
    card_slot, sam_slot = slots
    sam_slot.insert(PsamCard(keys_label="foreign"), wait=True)
    try:
        event = _read(log, card_slot, _gen3(population))
        assert isinstance(event, CardReadFailed), event
        assert event.failure is CardFailure.UNREADABLE
        assert "authentication" in event.detail
        _out(log, card_slot)
    finally:
        sam_slot.remove()


def test_a_generation_2_card_leaves_the_psam_alone(gen3_reader, slots, population):
    _, log = gen3_reader
    card_slot, sam_slot = slots
    psam = PsamCard()
    sam_slot.insert(psam, wait=True)
    citizen = next(
        population.citizen(i) for i in range(population.size)
        if population.citizen(i).current_card.generation == 2
    )
    try:
        event = _read(log, card_slot, SscCard.from_citizen(citizen))
        assert isinstance(event, CardRead) and not event.data.psam_authenticated
        assert psam.commands == []
        _out(log, card_slot)
    finally:
        sam_slot.remove()


# -- several slots --------------------------------------------------------------------------------
@pytest.fixture
def multislot(slots) -> Iterator[tuple[MultiSlotCardReader, EventLog]]:
    driver = MultiSlotCardReader(
        {"contact": CARD_READER, "contactless": SAM_READER}, poll_timeout_s=0.2
    )
    log = EventLog()
    driver.subscribe(log)
    driver.start()
    try:
        health = log.next(HealthChanged).health
        while health.state is not HealthState.OK:  # the slots report one by one
            health = log.next(HealthChanged).health
        yield driver, log
    finally:
        driver.stop()


def test_each_slot_says_where_the_card_came_from(multislot, slots, population):
    driver, log = multislot
    card_slot, second_slot = slots
    citizen = population.citizen(2)

    contactless = _read(log, second_slot, SscCard.from_citizen(citizen, generation=2))
    assert isinstance(contactless, CardRead), contactless
    assert (contactless.slot, contactless.reader) == ("contactless", SAM_READER)
    assert driver.pin_tries_left().tries_left == 3  # the PIN goes to the slot of that card
    _out(log, second_slot)

    contact = _read(log, card_slot, SscCard.from_citizen(citizen, generation=2))
    assert isinstance(contact, CardRead) and contact.slot == "contact"
    _out(log, card_slot)
    assert driver.verify_pin(Pin("123456")).outcome is PinOutcome.REMOVED


def test_a_slot_may_not_take_the_sam_reader():
    with pytest.raises(ValueError, match="SAM"):
        MultiSlotCardReader({"contact": "Virtual PCD"}, sam_reader=SAM_READER)
