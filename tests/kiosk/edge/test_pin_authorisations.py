"""The staff PIN authorisation through the kiosk's edge client, against a real loopback server:
what it sends, the MAC it returns, each refusal in its own words, and its own deadline (it runs
inside the card driver's)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kiosk.edge import pin_authorisations
from kiosk.edge.client import EdgeClient
from kiosk.edge.errors import INVALID_RESPONSE, EdgeProblem, EdgeUnreachable
from kiosk.edge.pin_authorisations import (
    PinAuthorisationCalls,
    Refusal,
    pin_authorisation_port,
    refusal_of,
)
from tests.kiosk.edge.fake_edge import Answer, FakeEdge, problem

CARD_ID = "110105D156000005000000000000A1B2"
CHALLENGE = "0123456789ABCDEF"


@pytest.fixture
def edge() -> Iterator[FakeEdge]:
    server = FakeEdge()
    yield server
    server.release.set()
    server.close()


@pytest.fixture
def calls(edge: FakeEdge) -> Iterator[Callable[..., PinAuthorisationCalls]]:
    made: list[EdgeClient] = []

    def make(**kwargs: Any) -> PinAuthorisationCalls:
        client = EdgeClient(edge.url, "kiosk-001", "dev1.kiosk-001.token", **kwargs)
        made.append(client)
        return PinAuthorisationCalls(client)

    yield make
    for client in made:
        client.close()


def _ask(port: PinAuthorisationCalls, code: str = "135790") -> bytes:
    return port.authorise_pin("reload", CARD_ID, CHALLENGE, "10001", code)


def test_the_mac_comes_back_as_bytes_and_the_request_is_the_contracts(edge, calls) -> None:
    edge.script = [Answer(200, {"mac": "0A1B2C3D"})]
    assert _ask(calls()) == bytes.fromhex("0A1B2C3D")
    (seen,) = edge.seen
    assert (seen.method, seen.path) == ("POST", "/api/v1/cards/pin-authorisations")
    assert seen.body == {"operation": "reload", "card_id_code": CARD_ID, "challenge": CHALLENGE,
                         "staff_id": "10001", "staff_code": "135790"}
    assert "Idempotency-Key" not in seen.headers


@pytest.mark.parametrize(("answer", "refusal"), [
    (problem(403, "staff-refused"), Refusal.STAFF_REFUSED),
    (problem(429, "too-many-requests", retry_after=60), Refusal.TOO_MANY),
    (problem(503, "central-unavailable", retry_after=30), Refusal.UNAVAILABLE),
    (problem(500, "internal"), Refusal.UNAVAILABLE),
    (problem(422, "validation-error"), Refusal.FAILED),
    (Answer(200, {"mac": "not hex!"}), Refusal.FAILED),
    (Answer(200, {"mac": "0A1B2C3D4E"}), Refusal.FAILED),
])
def test_each_refusal_says_why(edge, calls, answer, refusal) -> None:
    edge.script = [answer]
    with pytest.raises(EdgeProblem) as raised:
        _ask(calls())
    assert refusal_of(raised.value) is refusal
    if answer.status == 200:
        assert raised.value.code == INVALID_RESPONSE


def test_its_own_deadline_ends_a_hanging_edge_inside_the_card_drivers(edge, calls,
                                                                      monkeypatch) -> None:
    monkeypatch.setattr(pin_authorisations, "DEADLINE_S", 0.5)
    edge.script = [Answer(200, hang=True)]
    port = calls(deadline_s=120.0)  # the client's own deadline would hold the card for minutes
    raised: list[BaseException] = []

    def run() -> None:
        try:
            _ask(port)
        except BaseException as exc:  # handed to the test thread
            raised.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the call did not end at its own deadline"
    assert len(raised) == 1 and isinstance(raised[0], EdgeUnreachable)
    assert refusal_of(raised[0]) is Refusal.UNAVAILABLE


def test_an_edge_port_with_the_call_is_used_as_it_is() -> None:
    class Scripted:
        def authorise_pin(self, *_: Any) -> bytes:
            return b"\x00" * 4

    scripted = Scripted()
    assert pin_authorisation_port(scripted) is scripted
    assert isinstance(pin_authorisation_port(object()), PinAuthorisationCalls)
    assert refusal_of(RuntimeError("a bug")) is Refusal.FAILED
