"""The control service over HTTP (in process), with cards going into the session pcscd."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from smartcard.CardConnection import CardConnection
from smartcard.Exceptions import CardConnectionException
from smartcard.System import readers

from simulators.card.service import CardSimulator, create_app
from tests.simulators.card.vcard import reader_name, wait_reader


@pytest.fixture
def simulator(pcscd, population) -> Iterator[CardSimulator]:
    sim = CardSimulator(population, "127.0.0.1", pcscd.vpcd_port)
    try:
        yield sim
    finally:
        sim.close()
        wait_reader(reader_name(0), present=False)
        wait_reader(reader_name(1), present=False)


@pytest.fixture
def client(simulator) -> Iterator[TestClient]:
    with TestClient(create_app(simulator)) as c:
        yield c


def _protocol_seen_by_pyscard(slot: int) -> str:
    reader = next(r for r in readers() if str(r) == reader_name(slot))
    connection = reader.createConnection()
    connection.connect(CardConnection.T0_protocol | CardConnection.T1_protocol)
    try:
        return {CardConnection.T0_protocol: "T=0", CardConnection.T1_protocol: "T=1"}[
            connection.getProtocol()
        ]
    finally:
        connection.disconnect()


def test_status_of_empty_slots(client, pcscd):
    body = client.get("/status").json()
    assert body["population"] == {"seed": 42, "size": 5000}
    assert [s["state"] for s in body["slots"]] == ["empty", "empty"]
    assert [s["vpcd_port"] for s in body["slots"]] == [pcscd.vpcd_port, pcscd.vpcd_port + 1]
    assert body["slots"][1]["reader"] == "Virtual PCD 00 01"


@pytest.mark.parametrize("protocol", ["T=0", "T=1"])
def test_insert_makes_pcscd_negotiate_the_protocol(client, population, protocol):
    citizen = population.citizen(3)
    response = client.post("/insert", json={"citizen_index": 3, "protocol": protocol})
    assert response.status_code == 200, response.text
    slot = response.json()
    assert slot["state"] == "inserted"
    card = slot["card"]
    assert card["protocol"] == protocol
    assert card["citizen_index"] == 3
    assert card["generation"] == citizen.current_card.generation
    # Only masked holder data leaves the service.
    assert citizen.citizen_id not in response.text and citizen.name not in response.text
    assert card["citizen_id"].startswith(citizen.citizen_id[:6]) and "*" in card["citizen_id"]

    wait_reader(reader_name(0), present=True)
    assert _protocol_seen_by_pyscard(0) == protocol


def test_insert_by_citizen_id_with_overrides_into_slot_1(client, population):
    citizen = population.citizen(10)
    response = client.post(
        "/insert",
        json={"citizen_id": citizen.citizen_id, "generation": 3, "slot": 1, "protocol": "T=1"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["card"]["generation"] == 3
    wait_reader(reader_name(1), present=True)
    status = client.get("/status").json()
    assert [s["state"] for s in status["slots"]] == ["empty", "inserted"]

    removed = client.post("/remove", json={"slot": 1}).json()
    assert removed["removed"] is True and removed["state"] == "empty"
    wait_reader(reader_name(1), present=False)


def test_insert_replaces_and_remove_is_idempotent(client, population):
    client.post("/insert", json={"citizen_index": 1})
    wait_reader(reader_name(0), present=True)
    second = client.post("/insert", json={"citizen_index": 2}).json()
    assert second["card"]["citizen_index"] == 2
    wait_reader(reader_name(0), present=True)

    assert client.post("/remove").json()["removed"] is True
    assert client.post("/remove").json()["removed"] is False
    wait_reader(reader_name(0), present=False)


def test_a_pulled_card_shows_in_the_status(client):
    client.post("/insert", json={"citizen_index": 1, "pull_after_apdus": 0})
    wait_reader(reader_name(0), present=True)
    with pytest.raises(CardConnectionException):
        _select_mf(0)
    wait_reader(reader_name(0), present=False)
    slot = client.get("/status").json()["slots"][0]
    assert slot["state"] == "pulled"
    assert slot["card"]["apdus"] == 0


def _select_mf(slot: int) -> None:
    reader = next(r for r in readers() if str(r) == reader_name(slot))
    connection = reader.createConnection()
    connection.connect()
    try:
        connection.transmit([0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00])
    finally:
        connection.disconnect()


def test_non_ssc_and_mute_cards(client):
    foreign = client.post("/insert", json={"kind": "non-ssc"}).json()
    assert foreign["card"]["kind"] == "non-ssc" and "citizen_index" not in foreign["card"]
    mute = client.post("/insert", json={"citizen_index": 0, "mute": True}).json()
    assert mute["card"]["mute"] is True


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"citizen_index": 5000}, 404, "citizen-not-found"),
        ({"citizen_id": "11010519491231002X"}, 404, "citizen-not-found"),
        ({"citizen_index": 1, "citizen_id": "11010519491231002X"}, 422, "validation-error"),
        ({"protocol": "T=2"}, 422, "validation-error"),
        ({"generation": 4}, 422, "validation-error"),
        ({"slot": 2}, 422, "validation-error"),
        ({"pull_after_apdus": -1}, 422, "validation-error"),
    ],
)
def test_bad_requests_are_problem_json(client, body, status, code):
    response = client.post("/insert", json=body)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert "11010519491231002X" not in response.text


def test_vpcd_unreachable_is_503(population):
    from simulators.stack.ports import free_port

    sim = CardSimulator(population, "127.0.0.1", free_port())
    with TestClient(create_app(sim)) as c:
        response = c.post("/insert", json={"citizen_index": 1})
    assert response.status_code == 503
    assert response.json()["code"] == "vpcd-unreachable"


def test_a_card_that_goes_by_itself_while_the_slots_are_locked_does_not_deadlock(population):
    """remove() and insert() join a link's thread while holding the simulator's lock; the link
    ending by itself at that moment (pulled, or vpcd gone) must not need that lock to finish."""
    from simulators.card.service import InsertRequest
    from tests.simulators.card.test_vpcd_link import FakeVpcd

    vpcd = FakeVpcd()
    sim = CardSimulator(population, "127.0.0.1", vpcd.port)
    try:
        sim.insert(InsertRequest(citizen_index=1))
        vpcd.accept()
        link = sim._slots[0].link
        with sim._lock:  # as remove() holds it while it joins the link's thread
            vpcd.conn.close()  # vpcd goes away: the link ends by itself
            link._thread.join(timeout=5)
            assert not link._thread.is_alive(), "the link's thread waits for the slot lock"
        assert link.close_reason == "vpcd-closed"
        assert sim.status()["slots"][0]["state"] == "disconnected"
    finally:
        sim.close()
        vpcd.close()


def test_misbehaviour_and_names_for_testers_show_in_the_status(client, population):
    citizen = population.citizen(1)
    body = {
        "citizen_index": 1, "locked": "6A81", "stall_after_apdus": 4, "name": "王䶮",
        "generation": 1,
    }
    card = client.post("/insert", json=body).json()["card"]
    assert (card["locked"], card["stall_after_apdus"], card["stalled"]) == ("6A81", 4, False)
    assert card["name_on_chip"] == "custom" and card["name_truncated"] is False
    assert "䶮" not in json.dumps(card, ensure_ascii=False)  # masked like the holder's name
    assert citizen.name not in json.dumps(card, ensure_ascii=False)
    wait_reader(reader_name(0), present=True)

    long_name = "阿卜杜热合曼·阿不都热西提·阿不都热西提"
    cut = client.post("/insert", json={"citizen_index": 1, "generation": 1, "name": long_name})
    assert cut.json()["card"]["name_truncated"] is True
    raw = client.post("/insert", json={"citizen_index": 1, "name_hex": "D5C58120"}).json()
    assert raw["card"]["name_on_chip"] == "raw"
    wait_reader(reader_name(0), present=True)


@pytest.mark.parametrize(
    "body",
    [
        {"locked": "6982"},
        {"stall_after_apdus": -1},
        {"name": ""},
        {"name": "王\u0001"},
        {"name": "x" * 41},
        {"name_hex": "D5C"},
        {"name_hex": "ZZ"},
        {"name_hex": "41" * 31},
        {"name": "王", "name_hex": "41"},
    ],
)
def test_bad_misbehaviour_requests_are_422(client, body):
    response = client.post("/insert", json={"citizen_index": 1, **body})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation-error"
