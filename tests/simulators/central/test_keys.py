"""The central simulator's key centre (`POST /central/v1/cards/pin-authorisations`): its MAC is
one a virtual card takes for RELOAD PIN / PIN UNBLOCK; refusals are problem+json with codes."""

import pytest

from simulators.card.applet import SscCard
from simulators.central.population import Population

PATH = "/central/v1/cards/pin-authorisations"
PROBLEM = "application/problem+json"


@pytest.fixture
def card() -> SscCard:
    return SscCard.from_citizen(Population(42, 5000).citizen(3), generation=2, protocol="T=1",
                                pin_tries=0)  # locked


def _challenge(card: SscCard) -> str:
    answer = card.process(bytes.fromhex("0084000008"))
    assert answer[-2:] == b"\x90\x00"
    return answer[:-2].hex().upper()


def _body(card: SscCard, at: str, **overrides) -> dict:
    return {"operation": "reload", "card_id_code": card.profile.card_id_code,
            "challenge": at, "staff_id": "S0001", "staff_code": "246810", **overrides}


def test_the_mac_reloads_the_virtual_cards_locked_pin(central, auth, card):
    challenge = _challenge(card)
    r = central.post(PATH, json=_body(card, challenge), headers=auth)
    assert r.status_code == 200, r.text
    mac = bytes.fromhex(r.json()["mac"])
    assert len(mac) == 4
    new_pin = bytes.fromhex("654321")
    assert card.process(bytes([0x80, 0x5E, 0x00, 0x00, 7]) + new_pin + mac) == b"\x90\x00"
    assert (card.pin, card.pin_tries) == ("654321", 3)


def test_the_digit_only_staff_member_unblocks(central, auth, card):
    challenge = _challenge(card)
    r = central.post(PATH, json=_body(card, challenge, operation="unblock", staff_id="10001",
                                      staff_code="135790"), headers=auth)
    assert r.status_code == 200, r.text
    mac = bytes.fromhex(r.json()["mac"])
    assert card.process(bytes.fromhex("8424000004") + mac) == b"\x90\x00"
    assert card.pin_tries == 3


def test_a_mac_is_for_its_operation_and_challenge_only(central, auth, card):
    old = _challenge(card)
    unblock = central.post(PATH, json=_body(card, old, operation="unblock"), headers=auth)
    fresh = _challenge(card)  # the first challenge is gone: the card wants this one
    mac = bytes.fromhex(unblock.json()["mac"])
    assert card.process(bytes.fromhex("8424000004") + mac) == b"\x69\x88"
    assert card.pin_tries == 0
    assert fresh != old


@pytest.mark.parametrize(("staff_id", "staff_code"), [("S0001", "246811"), ("S9999", "246810")])
def test_unknown_staff_and_a_wrong_code_are_refused_alike(central, auth, card, staff_id,
                                                          staff_code):
    r = central.post(PATH, json=_body(card, _challenge(card), staff_id=staff_id,
                                      staff_code=staff_code), headers=auth)
    assert r.status_code == 403
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "staff-refused"
    assert staff_code not in r.text


@pytest.mark.parametrize("change", [
    {"operation": "format"}, {"card_id_code": "AB" * 15}, {"card_id_code": "ZZ" * 16},
    {"challenge": "00" * 9}, {"staff_id": "S" * 17}, {"staff_id": "S 1"},
    {"staff_code": "12a456"}, {"staff_code": "1" * 13}, {"extra": 1},
])
def test_malformed_input_is_422_problem_json(central, auth, card, change):
    r = central.post(PATH, json=_body(card, "00" * 8, **change), headers=auth)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "validation-error"


def test_it_needs_the_api_key_and_follows_the_outage_fault(central, auth, card):
    body = _body(card, "00" * 8)
    assert central.post(PATH, json=body).status_code == 401
    assert central.put("/sim/v1/faults", json={"outage": True}).status_code == 200
    r = central.post(PATH, json=body, headers=auth)
    assert (r.status_code, r.json()["code"]) == (503, "maintenance")
