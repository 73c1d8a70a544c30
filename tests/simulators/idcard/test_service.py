"""The control API in-process (FastAPI TestClient): placing cards, faults, bad requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from common import citizen_id
from simulators.central.population import Population
from simulators.idcard.device import IdCardDevice
from simulators.idcard.service import IdCardSimulator, create_app


@pytest.fixture(scope="module")
def people() -> Population:
    return Population(42, 40)


@pytest.fixture
def sim(tmp_path: Path, people: Population) -> Iterator[tuple[TestClient, IdCardDevice]]:
    device = IdCardDevice(tmp_path / "r" / "reader.tty")
    try:
        with TestClient(create_app(IdCardSimulator(device, people))) as client:
            yield client, device
    finally:
        device.close()


def test_place_by_index_and_by_id_shows_only_masked_data(
    sim: tuple[TestClient, IdCardDevice], people: Population,
) -> None:
    client, device = sim
    citizen = people.citizen(5)
    placed = client.post("/place", json={"citizen_index": 5})
    assert placed.status_code == 200
    assert placed.json()["card"]["citizen_index"] == 5
    assert citizen.citizen_id not in placed.text and citizen.name not in placed.text
    by_id = client.post("/place", json={"citizen_id": citizen.citizen_id, "expired": True})
    card = by_id.json()["card"]
    assert card["citizen_id"].startswith(citizen.citizen_id[:6]) and "*" in card["citizen_id"]
    assert device.card is not None and device.card.citizen_index == 5
    status = client.get("/status").json()
    assert status["population"] == {"seed": 42, "size": 40} and status["plugged"] is True
    assert client.post("/remove").json()["removed"] is True and device.card is None


def test_someone_outside_the_population_needs_a_name_and_a_valid_id(
    sim: tuple[TestClient, IdCardDevice],
) -> None:
    client, device = sim
    outsider = citizen_id.make("110105", dt.date(1990, 5, 6), 11)
    refused = client.post("/place", json={"citizen_id": outsider})
    assert refused.status_code == 404 and refused.json()["code"] == "citizen-not-found"
    placed = client.post("/place", json={"citizen_id": outsider, "name": "测试",
                                         "valid_until": "长期"})
    assert placed.status_code == 200
    assert device.card is not None and device.card.valid_until is None
    wrong = outsider[:17] + ("0" if outsider[-1] != "0" else "1")  # check character off
    bad = client.post("/place", json={"citizen_id": wrong, "name": "测试"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid-citizen-id"


@pytest.mark.parametrize("body", [
    {"citizen_index": -1}, {"citizen_index": 1, "citizen_id": "1" * 18},
    {"valid_until": "2030-13-01"}, {"valid_until": "someday"}, {"card_type": "X"},
    {"name": "a\x07b"}, {"citizen_id": "123"},
])
def test_bad_place_requests_are_4xx(sim: tuple[TestClient, IdCardDevice],
                                    body: dict[str, object]) -> None:
    client, _ = sim
    answer = client.post("/place", json=body)
    assert 400 <= answer.status_code < 500, answer.text


def test_an_index_outside_the_population_is_404(sim: tuple[TestClient, IdCardDevice]) -> None:
    client, _ = sim
    assert client.post("/place", json={"citizen_index": 40}).status_code == 404


def test_faults_unplug_and_replug(sim: tuple[TestClient, IdCardDevice]) -> None:
    client, device = sim
    status = client.post("/fault", json={"kind": "garbage", "count": 2, "on": "all"}).json()
    assert status["faults"] == {"garbage": {"remaining": 2, "on": "all"}}
    assert client.post("/fault", json={"kind": "sam-fault", "on": "read"}).json()["faults"][
        "sam-fault"] == {"remaining": None, "on": "all"}
    for body in ({"kind": "fire"}, {"kind": "mute", "count": 0}, {"kind": "mute", "on": "x"}):
        assert client.post("/fault", json=body).status_code == 422
    assert client.post("/clear-faults").json()["faults"] == {}
    unplugged = client.post("/unplug").json()
    assert unplugged["plugged"] is False and unplugged["path"] is None
    assert not Path(str(device.link)).exists()
    assert client.post("/replug").json()["plugged"] is True
    assert Path(device.path).is_symlink()
