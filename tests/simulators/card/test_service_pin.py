"""The control service's PIN, PSAM and staff-reload endpoints, with cards going into the
session pcscd (module-scoped simulator: each test leaves its slots empty)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from simulators.card import keys
from simulators.card.applet import SscCard
from simulators.card.psam import PsamCard
from simulators.card.service import CardSimulator, create_app
from tests.simulators.card.vcard import reader_name, wait_reader


@pytest.fixture(scope="module")
def simulator(pcscd, population) -> Iterator[CardSimulator]:
    sim = CardSimulator(population, "127.0.0.1", pcscd.vpcd_port)
    try:
        yield sim
    finally:
        sim.close()


@pytest.fixture
def client(simulator) -> Iterator[TestClient]:
    with TestClient(create_app(simulator)) as c:
        yield c
    simulator.close()
    wait_reader(reader_name(0), present=False)
    wait_reader(reader_name(1), present=False)


def test_a_psam_goes_into_the_sam_slot(client, simulator):
    body = client.post("/insert", json={"kind": "psam"}).json()
    assert (body["slot"], body["reader"], body["card"]["kind"]) == (1, "Virtual PCD 00 01", "psam")
    assert isinstance(simulator._slots[1].card, PsamCard)
    wait_reader(reader_name(1), present=True)
    assert client.post("/remove", json={"slot": 1}).json()["removed"] is True


def test_a_card_with_a_locked_pin_shows_tries_never_the_pin(client, simulator):
    body = client.post("/insert", json={"citizen_index": 4, "pin": "864209", "pin_tries": 0})
    assert body.status_code == 200, body.text
    card = body.json()["card"]
    assert (card["pin_tries"], card["pin_locked"]) == (0, True)
    assert "864209" not in body.text
    assert simulator._slots[0].card.pin == "864209"


def test_pin_sets_the_pin_and_the_tries_of_the_card_in_a_slot(client, simulator):
    client.post("/insert", json={"citizen_index": 4})
    body = client.post("/pin", json={"slot": 0, "pin": "1111", "tries": 1}).json()
    assert body["card"]["pin_tries"] == 1
    card = simulator._slots[0].card
    assert isinstance(card, SscCard) and card.pin == "1111"
    assert client.post("/pin", json={"slot": 1, "tries": 3}).status_code == 409
    assert client.post("/pin", json={"slot": 0, "pin": "12"}).status_code == 422


def test_a_foreign_keyed_card_or_psam_can_be_inserted(client, simulator):
    client.post("/insert", json={"citizen_index": 4, "generation": 3, "keys": "foreign"})
    assert simulator._slots[0].card.keys_label == "foreign"
    body = client.post("/insert", json={"kind": "psam", "keys": "foreign"}).json()
    assert body["card"]["keys"] == "foreign"


def test_authorise_reload_is_the_stand_in_issuer(client):
    card_id, challenge = "11" * 16, "22" * 8
    body = {
        "operation": "reload", "card_id_code": card_id, "challenge": challenge,
        "staff_id": "S0001", "staff_code": "246810",
    }
    ok = client.post("/authorise-reload", json=body)
    assert ok.status_code == 200
    expected = keys.KeyCentre().authorise("reload", card_id, challenge, "S0001", "246810")
    assert ok.json() == {"mac": expected.hex().upper()}
    refused = client.post("/authorise-reload", json=body | {"staff_code": "000000"})
    assert refused.status_code == 403 and refused.json()["type"].endswith("reload-refused")
    assert client.post("/authorise-reload", json=body | {"challenge": "zz"}).status_code == 422
