"""The in-process fake reader keeps the CardReader contract that the kiosk's tests rely on."""

from __future__ import annotations

import datetime as dt

import pytest

from drivers.base import Health, HealthChanged, HealthState
from drivers.card.fake import FakeCardReader
from drivers.card.interface import (
    CardData,
    CardFailure,
    CardInserted,
    CardRead,
    CardReader,
    CardReadError,
    CardReadFailed,
    CardRemoved,
)


def _card() -> CardData:
    return CardData(
        atr="3B00", protocol="T=1", card_id_code="11010500000000000000000000000000",
        card_type="3", spec_version="2.00", init_org_code="", issue_date=None,
        expiry_date=None, card_number="A12345678", citizen_id="11010519491231002X",
        name="张三", gender="2", ethnicity="01", birthplace="110105",
        birth_date=dt.date(1949, 12, 31),
    )


def test_events_in_contract_order_and_read_follows_the_card():
    reader = FakeCardReader()
    assert isinstance(reader, CardReader)
    events: list[object] = []
    reader.subscribe(events.append)
    card = _card()

    reader.insert(card)
    assert reader.read() is card
    reader.remove()

    assert [type(e) for e in events] == [CardInserted, CardRead, CardRemoved]
    with pytest.raises(CardReadError) as excinfo:
        reader.read()
    assert excinfo.value.failure is CardFailure.REMOVED


def test_a_failing_card_fails_read_until_it_is_removed():
    reader = FakeCardReader()
    events: list[object] = []
    reader.subscribe(events.append)

    reader.insert_failing(CardFailure.NEEDS_PSAM)
    with pytest.raises(CardReadError) as excinfo:
        reader.read()
    assert excinfo.value.failure is CardFailure.NEEDS_PSAM
    reader.remove()
    with pytest.raises(CardReadError) as excinfo:
        reader.read()
    assert excinfo.value.failure is CardFailure.REMOVED  # not the previous card's failure

    assert [type(e) for e in events] == [CardInserted, CardReadFailed, CardRemoved]
    assert events[1].failure is CardFailure.NEEDS_PSAM  # type: ignore[attr-defined]


def test_health_changes_are_published():
    reader = FakeCardReader()
    events: list[object] = []
    reader.subscribe(events.append)
    missing = Health(HealthState.MISSING, "reader-missing", "unplugged")

    reader.set_health(missing)

    assert reader.health() == missing
    assert len(events) == 1 and isinstance(events[0], HealthChanged)
    assert (events[0].kind, events[0].health) == ("card_reader", missing)


def test_the_fake_does_pin_operations_like_a_card():
    from drivers.card.interface import Pin as P
    from drivers.card.interface import (
        PinCapableReader,
        PinOutcome,
        ReloadRefused,
        StaffCredential,
    )

    reader = FakeCardReader()
    assert isinstance(reader, PinCapableReader)
    assert reader.verify_pin(P("123456")).outcome is PinOutcome.REMOVED
    reader.insert(_card(), pin_tries=2)
    assert reader.pin_tries_left().tries_left == 2
    assert reader.verify_pin(P("000000")).tries_left == 1
    assert reader.verify_pin(P("000000")).outcome is PinOutcome.LOCKED
    staff = StaffCredential("S0001", "246810")

    def refuse(request):
        raise ReloadRefused("no")

    assert reader.reload_pin(P("1111"), staff, refuse).outcome is PinOutcome.REFUSED
    assert reader.reload_pin(P("1111"), staff, lambda request: b"\0" * 4).ok
    assert reader.verify_pin(P("1111")).ok
    assert reader.change_pin(P("1111"), P("2222")).ok and reader.pin == "2222"
