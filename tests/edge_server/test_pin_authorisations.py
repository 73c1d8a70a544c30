"""Staff PIN reload / unblock at a terminal (edge-api.md, "Card PIN"): the edge relays the card's
challenge to the central simulator's key centre and answers its MAC, which a virtual card takes.
Refusals in their own codes, central down is 503 at once (never queued), refusals rate-limited,
every answer audited with the staff ID and the masked card, the staff code nowhere. On SQLite
and PostgreSQL."""

from collections.abc import Iterator

import httpx
import pytest

from edge_server.central import CentralClient, CentralUnavailable
from edge_server.central.client import PERSONS, PIN_AUTHORISATIONS
from edge_server.central.errors import BadAnswer, StaffRefused
from simulators.card.applet import SscCard
from simulators.central.population import Population
from tests.edge_server.support import PROBLEM, Hall, hall, headers

PATH = "/api/v1/cards/pin-authorisations"
CODE = "246810"


@pytest.fixture
def hp(tmp_path, edge_database_url) -> Iterator[Hall]:
    # Two refusals per staff ID, three per device, before 429.
    with hall(tmp_path, database_url=edge_database_url, pin_citizen_burst=2,
              pin_device_burst=3) as instance:
        yield instance


@pytest.fixture
def card() -> SscCard:
    return SscCard.from_citizen(Population(42, 5000).citizen(5), generation=2, pin_tries=0)


def challenge(card: SscCard) -> str:
    answer = card.process(bytes.fromhex("0084000008"))
    assert answer[-2:] == b"\x90\x00"
    return answer[:-2].hex().upper()


def body(card: SscCard, at: str = "00" * 8, **changes) -> dict:
    return {"operation": "reload", "card_id_code": card.profile.card_id_code, "challenge": at,
            "staff_id": "S0001", "staff_code": CODE, **changes}


def ask(h: Hall, payload: dict, device: str = "kiosk-01") -> httpx.Response:
    return h.edge.post(PATH, json=payload, headers=headers(device))


def audit_rows(h: Hall) -> list[tuple]:
    return h.sql("SELECT device_id, masked_id, outcome FROM audit_log "
                 "WHERE action = 'card.pin-authorisation' ORDER BY seq")


def assert_problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == code


def test_the_mac_from_central_reloads_the_cards_locked_pin(hp, card):
    r = ask(hp, body(card, challenge(card)))
    assert r.status_code == 200, r.text
    mac = bytes.fromhex(r.json()["mac"])
    new_pin = bytes.fromhex("864213")
    assert card.process(bytes([0x80, 0x5E, 0x00, 0x00, 7]) + new_pin + mac) == b"\x90\x00"
    assert (card.pin, card.pin_tries) == ("864213", 3)
    (device, masked, outcome), = audit_rows(hp)
    card_id = card.profile.card_id_code
    assert (device, outcome) == ("kiosk-01", "reload authorised S0001")
    assert masked != card_id and masked[0] == card_id[0] and masked.endswith(card_id[-2:])


def test_unblock_is_signed_for_its_own_command(hp, card):
    r = ask(hp, body(card, challenge(card), operation="unblock", staff_id="10001",
                     staff_code="135790"))
    assert r.status_code == 200, r.text
    assert card.process(bytes.fromhex("8424000004") + bytes.fromhex(r.json()["mac"])) \
        == b"\x90\x00"
    assert (card.pin, card.pin_tries) == ("123456", 3)


def test_a_wrong_staff_code_is_403_staff_refused_and_audited_without_the_code(hp, card,
                                                                               caplog):
    wrong = "246811"
    r = ask(hp, body(card, challenge(card), staff_code=wrong))
    assert_problem(r, 403, "staff-refused")
    assert audit_rows(hp)[-1][2] == "reload staff-refused S0001"
    assert card.pin_tries == 0  # nothing reached the card
    everything = str(hp.sql("SELECT * FROM audit_log")) + caplog.text
    assert wrong not in everything and CODE not in everything
    assert card.profile.card_id_code not in everything


def test_central_down_is_503_at_once_and_nothing_is_queued(hp, card):
    hp.link.down = True
    r = ask(hp, body(card, challenge(card)))
    assert_problem(r, 503, "central-unavailable")
    assert int(r.headers["Retry-After"]) >= 1
    assert hp.count("outbox_item") == 0
    assert audit_rows(hp)[-1][2] == "reload central-unavailable S0001"
    hp.link.down = False
    hp.outage()  # the platform's own 503 (maintenance)
    assert_problem(ask(hp, body(card, challenge(card))), 503, "central-unavailable")
    hp.outage(False)
    assert ask(hp, body(card, challenge(card))).status_code == 200


@pytest.mark.parametrize("mode", ["oversized", "wrong-content-type", "invalid-utf8", "bare-404"])
def test_a_hostile_answer_from_central_is_503_never_a_5xx_of_ours(hp, card, mode):
    assert hp.central.put("/sim/v1/faults", json={"hostile": mode}).status_code == 200
    assert_problem(ask(hp, body(card, challenge(card))), 503, "central-unavailable")


@pytest.mark.parametrize("change", [
    {"operation": "erase"}, {"card_id_code": "0" * 31}, {"card_id_code": "G" * 32},
    {"challenge": "0" * 17}, {"challenge": 1234}, {"staff_id": ""}, {"staff_id": "S0001\n"},
    {"staff_id": "工号0001"}, {"staff_code": "2468a0"}, {"staff_code": "1" * 13},
    {"staff_code": None}, {"mac": "00000000"},
])
def test_malformed_input_is_422_and_never_reaches_central(hp, card, change):
    before = len(hp.link.calls)
    r = ask(hp, body(card, **change))
    assert_problem(r, 422, "validation-error")
    assert CODE not in r.text
    assert len(hp.link.calls) == before


def test_only_a_known_device_may_ask(hp, card):
    r = hp.edge.post(PATH, json=body(card))
    assert_problem(r, 401, "unauthorized")
    r = hp.edge.post(PATH, json=body(card), headers={"Authorization": "Bearer dev2.x.1.y"})
    assert r.status_code == 401


def test_refusals_are_rate_limited_per_staff_id_and_per_device(hp, card):
    for _ in range(2):
        assert ask(hp, body(card, staff_code="000000")).status_code == 403
    calls = len(hp.link.calls)
    # S0001 has no refusal left: even the right code is not tried now, on any terminal.
    r = ask(hp, body(card, challenge(card)), device="kiosk-02")
    assert_problem(r, 429, "too-many-requests")
    assert int(r.headers["Retry-After"]) >= 1
    assert len(hp.link.calls) == calls
    # The device has one refusal left: another staff ID still gets through, once.
    assert ask(hp, body(card, staff_id="10001", staff_code="000000")).status_code == 403
    assert_problem(ask(hp, body(card, staff_id="10001", staff_code="135790")), 429,
                   "too-many-requests")
    assert ask(hp, body(card, challenge(card), staff_id="10001", staff_code="135790"),
               device="kiosk-03").status_code == 200
    hp.clock.advance(3600)  # the buckets refill with time
    assert ask(hp, body(card, challenge(card))).status_code == 200


def test_successes_cost_nothing(hp, card):
    for _ in range(6):  # more than both bursts
        assert ask(hp, body(card, challenge(card))).status_code == 200


def _client(status: int, code: str) -> CentralClient:
    def answer(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"type": "x", "title": "t", "status": status,
                                            "code": code},
                              headers={"content-type": PROBLEM})

    return CentralClient("http://central", "k", http=httpx.Client(
        base_url="http://central", transport=httpx.MockTransport(answer)))


def test_staff_refused_means_it_only_on_the_key_centres_call():
    refusing = _client(403, "staff-refused")
    with pytest.raises(StaffRefused):
        refusing.call(PIN_AUTHORISATIONS, {}, httpx.Response, lambda a: a)
    assert refusing.reachability.state == "reachable"
    # The same answer to a person query is a gateway's 403: a fault, not a staff refusal.
    with pytest.raises(CentralUnavailable) as raised:
        refusing.call(PERSONS, {}, httpx.Response, lambda a: a)
    assert not isinstance(raised.value, StaffRefused | BadAnswer)
    assert refusing.reachability.state == "unreachable"
