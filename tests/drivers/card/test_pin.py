"""drivers.card.pin / psam / ssc's gen-3 path in process, with the virtual card and PSAM as
transports (fast; the same paths through pcscd are in test_pcsc_pin.py / test_pcsc_psam.py)."""

from __future__ import annotations

import pytest

from drivers.card import pin, psam, ssc
from drivers.card.interface import (
    CardFailure,
    CardReadError,
    Pin,
    PinOutcome,
    StaffCredential,
)
from drivers.pinpad.interface import PinBlock
from simulators.card.applet import SscCard
from simulators.card.psam import PsamCard
from tests.drivers.card.authoriser import key_centre_authoriser


class Direct:
    def __init__(self, card) -> None:
        self.card = card

    def transmit(self, command: bytes) -> bytes:
        return self.card.process(command)


def _gen3(population, protocol: str) -> SscCard:
    citizen = next(
        population.citizen(i) for i in range(population.size)
        if population.citizen(i).current_card.generation == 3
    )
    return SscCard.from_citizen(citizen, protocol=protocol)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sw", "query", "outcome", "tries"),
    [
        (0x9000, False, PinOutcome.OK, None),
        (0x63C2, False, PinOutcome.WRONG_PIN, 2),
        (0x63C2, True, PinOutcome.OK, 2),
        (0x63C0, False, PinOutcome.LOCKED, 0),
        (0x6983, True, PinOutcome.LOCKED, 0),
        (0x6988, False, PinOutcome.REFUSED, None),
        (0x6A80, False, PinOutcome.FAILED, None),
        (0x6F00, False, PinOutcome.FAILED, None),
    ],
)
def test_status_words_map_to_outcomes(sw, query, outcome, tries):
    result = pin.result_for(sw, query=query)
    assert (result.outcome, result.tries_left) == (outcome, tries)


def test_only_commands_that_cost_a_try_are_counted():
    assert pin.uses_a_try(pin.verify_command(Pin("123456")))
    assert not pin.uses_a_try(pin.verify_command(None))
    assert pin.uses_a_try(pin.change_command(Pin("1234"), Pin("5678")))
    assert not pin.uses_a_try(bytes.fromhex("0084000008"))


def test_the_pin_goes_out_in_bcd():
    assert pin.verify_command(Pin("12345")) == bytes.fromhex("0020000003") + bytes.fromhex("12345F")
    assert pin.change_command(Pin("1234"), Pin("5678")) == bytes.fromhex("805E0100051234FF5678")


def test_a_pin_comes_from_a_plain_keypad_block_only():
    assert Pin.from_block(PinBlock(b"123456", encrypted=False)).digits == "123456"
    with pytest.raises(ValueError, match="encrypted"):
        Pin.from_block(PinBlock(b"\x01" * 8, encrypted=True))
    with pytest.raises(ValueError):
        Pin.from_block(PinBlock(b"12\xff456", encrypted=False))


def test_a_different_card_gets_no_pin(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=1")
    with pytest.raises(pin.CardChanged) as caught:
        pin.ensure_card(Direct(card), t0=False, card_id_code="00" * 16)
    assert caught.value.outcome is PinOutcome.REMOVED
    pin.ensure_card(Direct(card), t0=False, card_id_code=card.profile.card_id_code.lower())
    assert not any(c[1] == 0x20 for c in card.commands)


def test_reload_asks_the_authoriser_without_the_pin(population):
    card = SscCard.from_citizen(population.citizen(1), protocol="T=0", pin_tries=0)
    requests = []

    def authorise(request):
        requests.append(request)
        return key_centre_authoriser()(request)

    result = pin.staff_command(
        Direct(card), pin.RELOAD, Pin("777777"), t0=True,
        card_id_code=card.profile.card_id_code, staff=StaffCredential("S0001", "246810"),
        authorise=authorise,
    )
    assert result.ok and card.pin == "777777"
    assert "777777" not in repr(requests[0])


@pytest.mark.parametrize("protocol", ["T=0", "T=1"])
def test_read_card_authenticates_a_generation_3_card(population, protocol):
    card, sam = _gen3(population, protocol), PsamCard(protocol=protocol)  # type: ignore[arg-type]
    t0 = protocol == "T=0"

    def authenticate(card_id: bytes) -> None:
        psam.select_psam(Direct(sam), t0=t0)
        psam.authenticate(Direct(card), Direct(sam), card_id, card_t0=t0, psam_t0=t0)

    data = ssc.read_card(Direct(card), atr="3B00", protocol=protocol, authenticate=authenticate)

    assert data.psam_authenticated and data.citizen_id == card.profile.citizen_id


def test_a_missing_psam_gives_needs_psam_with_what_could_be_read(population):
    card = _gen3(population, "T=1")

    def no_psam(card_id: bytes) -> None:
        raise psam.PsamUnavailable("the SAM slot is empty")

    with pytest.raises(CardReadError) as caught:
        ssc.read_card(Direct(card), atr="3B00", protocol="T=1", authenticate=no_psam)

    error = caught.value
    assert error.failure is CardFailure.NEEDS_PSAM and "SAM slot is empty" in error.detail
    assert error.partial is not None
    assert error.partial.card_number == card.profile.card_number
    assert error.partial.spec_version == "3.00"


def test_a_slot_that_holds_no_psam_is_no_psam():
    with pytest.raises(psam.PsamUnavailable):
        psam.select_psam(Direct(_NotPsam()), t0=False)


class _NotPsam:
    def process(self, command: bytes) -> bytes:
        return b"\x6a\x82"
