"""PIN operations through the real stack: pcscd + vpcd + pyscard + the virtual card.

One reader and one slot for the module; each test inserts its card and takes it out again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.card.interface import (
    CardInserted,
    CardRead,
    CardRemoved,
    Pin,
    PinCapableReader,
    PinOutcome,
    StaffCredential,
)
from drivers.card.pcsc import PcscCardReader
from simulators.card.applet import SscCard
from tests.drivers.card.authoriser import key_centre_authoriser
from tests.drivers.card.conftest import EventLog, started
from tests.simulators.card.vcard import CardSlot

STAFF = StaffCredential("S0001", "246810")


@pytest.fixture(scope="module")
def slot0(pcscd) -> Iterator[CardSlot]:
    with CardSlot(pcscd.vpcd_port, slot=0) as slot:
        yield slot


@pytest.fixture(scope="module")
def pin_reader(pcscd, slot0) -> Iterator[tuple[PcscCardReader, EventLog]]:
    reader = PcscCardReader("Virtual PCD 00 00", poll_timeout_s=0.2, pin_timeout_s=5.0)
    with started(reader) as pair:
        yield pair


@pytest.fixture
def card_in(pin_reader, slot0, population):
    """Insert a generation 2 T=1 card (options as keywords) and wait for its CardRead."""
    _, log = pin_reader
    inserted: list[SscCard] = []

    def insert(**options) -> SscCard:
        link_options = {k: options.pop(k) for k in ("pull_after_apdus",) if k in options}
        card = SscCard.from_citizen(
            population.citizen(5), generation=2, protocol=options.pop("protocol", "T=1"),
            **options,
        )
        slot0.insert(card, **link_options)
        assert isinstance(log.next(), CardInserted)
        event = log.next()
        assert isinstance(event, CardRead), event
        inserted.append(card)
        return card

    yield insert
    if inserted:
        slot0.remove()
        assert isinstance(log.next(CardRemoved), CardRemoved)


def test_the_reader_offers_pin_operations(pin_reader):
    assert isinstance(pin_reader[0], PinCapableReader)


@pytest.mark.parametrize("protocol", ["T=0", "T=1"])
def test_tries_left_uses_no_try(pin_reader, card_in, protocol):
    driver, _ = pin_reader
    card = card_in(protocol=protocol, pin_tries=2)

    result = driver.pin_tries_left()

    assert (result.outcome, result.tries_left) == (PinOutcome.OK, 2)
    assert card.pin_tries == 2
    assert bytes.fromhex("00200000") in card.commands  # VERIFY without data


def test_a_wrong_pin_says_the_tries_left_and_the_right_one_passes(pin_reader, card_in):
    driver, _ = pin_reader
    card = card_in()

    wrong = driver.verify_pin(Pin("111111"))
    right = driver.verify_pin(Pin("123456"))

    assert (wrong.outcome, wrong.tries_left) == (PinOutcome.WRONG_PIN, 2)
    assert right.ok and card.pin_tries == 3
    # The PIN goes to the card in BCD, nothing else.
    assert bytes.fromhex("0020000003123456") in card.commands


def test_the_last_wrong_try_locks_and_says_where_to_unlock(pin_reader, card_in):
    driver, _ = pin_reader
    card_in(pin_tries=1)

    result = driver.verify_pin(Pin("000000"))
    again = driver.verify_pin(Pin("123456"))
    query = driver.pin_tries_left()

    assert (result.outcome, result.tries_left) == (PinOutcome.LOCKED, 0)
    assert "staff" in result.detail
    assert again.outcome is PinOutcome.LOCKED and query.outcome is PinOutcome.LOCKED


def test_change_pin(pin_reader, card_in):
    driver, _ = pin_reader
    card = card_in()

    assert driver.change_pin(Pin("123456"), Pin("24680")).ok
    assert card.pin == "24680"
    wrong_old = driver.change_pin(Pin("123456"), Pin("13579"))
    assert (wrong_old.outcome, wrong_old.tries_left) == (PinOutcome.WRONG_PIN, 2)
    assert driver.verify_pin(Pin("24680")).ok


def test_staff_reload_sets_a_new_pin_on_a_locked_card(pin_reader, card_in):
    driver, _ = pin_reader
    card = card_in(pin_tries=0)

    result = driver.reload_pin(Pin("654321"), STAFF, key_centre_authoriser())

    assert result.ok, result
    assert (card.pin, card.pin_tries) == ("654321", 3)
    assert driver.verify_pin(Pin("654321")).ok


def test_staff_unblock_keeps_the_pin(pin_reader, card_in):
    driver, _ = pin_reader
    card = card_in(pin_tries=0)

    assert driver.unblock_pin(STAFF, key_centre_authoriser()).ok
    assert (card.pin, card.pin_tries) == ("123456", 3)


def test_a_refused_staff_credential_changes_nothing(pin_reader, card_in):
    driver, _ = pin_reader
    card = card_in(pin_tries=0)
    seen = []

    def authorise(request):
        seen.append(request)
        return key_centre_authoriser()(request)

    result = driver.reload_pin(Pin("654321"), StaffCredential("S0001", "000000"), authorise)

    assert result.outcome is PinOutcome.REFUSED
    assert (card.pin, card.pin_tries) == ("123456", 0)
    request = seen[0]
    assert request.card_id_code == card.profile.card_id_code
    assert len(request.challenge) == 16 and "000000" not in repr(request)


def test_a_forged_mac_is_refused_by_the_card(pin_reader, card_in):
    driver, _ = pin_reader
    card = card_in(pin_tries=0)

    result = driver.unblock_pin(STAFF, lambda request: b"\x00\x01\x02\x03")

    assert result.outcome is PinOutcome.REFUSED
    assert card.pin_tries == 0


def test_a_card_pulled_mid_verify_fails_clearly_and_uses_no_try(pin_reader, card_in, slot0):
    driver, _ = pin_reader
    card = card_in()
    link = slot0.link
    # T=1: SELECT and the identity check go through; the VERIFY never reaches the card.
    link.pull_after_apdus = link.apdus + 2

    result = driver.verify_pin(Pin("111111"))

    assert result.outcome is PinOutcome.REMOVED, result
    assert result.try_may_be_used and "tries left" in result.detail
    assert card.pin_tries == 3  # the card never saw it: nothing was used silently
    assert link.wait_closed(timeout=5) and link.close_reason == "pulled"
    # (the fixture then sees the CardRemoved that follows)


def test_no_pin_operation_without_a_card(pin_reader):
    driver, _ = pin_reader
    assert driver.verify_pin(Pin("123456")).outcome is PinOutcome.REMOVED


def test_the_pin_never_shows():
    pin = Pin("123456")
    assert "123456" not in repr(pin) and "123456" not in str(pin)
    assert "246810" not in repr(STAFF)
    with pytest.raises(ValueError):
        Pin("12a456")
    with pytest.raises(ValueError):
        Pin("123")
