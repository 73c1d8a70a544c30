"""Operators' outbox: REST (operator_api_key) and `kioskctl edge outbox ...`."""

import pytest
from typer.testing import CliRunner

from edge_server.cli import edge_app
from tests.edge_server.outbox.fake_central import plug
from tests.edge_server.outbox.test_relay import application, drain, put
from tests.edge_server.support import CENTRAL_KEY, HALL_SECRET, hall, headers

OPERATOR = {"Authorization": "Bearer op-secret-1"}
BASE = "/api/v1/operator/outbox"


@pytest.fixture
def oh(tmp_path, edge_database_url):
    with hall(tmp_path, database_url=edge_database_url, operator_api_key="op-secret-1") as h:
        yield h


def refused_letter(h) -> str:
    fake = plug(h)
    fake.refuse = lambda item: item["payload"]["form"]["phone"] == "13900000000"
    cid = h.citizen(0)["citizen_id"]
    bad = put(h, cid, payload=application(cid, phone="13900000000"),
              claim=("skill-upgrade", "2026"))
    drain(h)
    return bad.receipt_no


def test_operator_routes_need_the_operator_key(oh):
    assert oh.edge.get(BASE).status_code == 401
    assert oh.edge.get(BASE, headers={"Authorization": "Bearer wrong"}).status_code == 401
    # A device token is not an operator credential.
    assert oh.edge.get(BASE, headers=headers()).status_code == 401
    assert oh.edge.get(BASE, headers=OPERATOR).json()["depth"] == 0


def test_without_an_operator_key_the_routes_do_not_exist(h):
    r = h.edge.get(BASE, headers=OPERATOR)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_dead_letters_are_listed_and_retried_after_correction(oh):
    receipt = refused_letter(oh)
    status = oh.edge.get(BASE, headers=OPERATOR).json()
    assert (status["depth"], status["dead_letters"], status["full"]) == (0, 1, False)
    letters = oh.edge.get(f"{BASE}/dead-letters", headers=OPERATOR).json()["items"]
    assert [(d["receipt_no"], d["refusal_code"], d["retryable"]) for d in letters] == [
        (receipt, "risk-refused", True)]
    cid = oh.citizen(0)["citizen_id"]
    assert cid not in str(letters)

    url = f"{BASE}/dead-letters/{receipt}/retry"
    assert oh.edge.post(url, headers=OPERATOR, json={}).status_code == 400  # no key
    body = {"form": {"phone": "13800000000"}}
    first = oh.edge.post(url, headers={**OPERATOR, "Idempotency-Key": "fix-1"}, json=body)
    again = oh.edge.post(url, headers={**OPERATOR, "Idempotency-Key": "fix-1"}, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["receipt_no"] == again.json()["receipt_no"] != receipt
    other = oh.edge.post(url, headers={**OPERATOR, "Idempotency-Key": "fix-2"}, json=body)
    assert (other.status_code, other.json()["code"]) == (409, "already-retried")
    drain(oh)
    assert oh.edge.get(f"{BASE}/dead-letters", headers=OPERATOR).json()["items"] == []
    sent = oh.edge.get(f"/api/v1/submissions/{first.json()['receipt_no']}", headers=headers())
    assert sent.json()["state"] == "sent"


def test_retrying_what_is_not_a_dead_letter_is_a_clear_4xx(oh):
    plug(oh)
    cid = oh.citizen(0)["citizen_id"]
    queued = put(oh, cid).receipt_no
    key = {**OPERATOR, "Idempotency-Key": "k"}
    r = oh.edge.post(f"{BASE}/dead-letters/{queued}/retry", headers=key)
    assert (r.status_code, r.json()["code"]) == (409, "not-a-dead-letter")
    r = oh.edge.post(f"{BASE}/dead-letters/R20261122AAAAAAAAAA/retry", headers=key)
    assert (r.status_code, r.json()["code"]) == (404, "submission-not-found")
    r = oh.edge.post(f"{BASE}/dead-letters/{queued}/retry", headers=key,
                     json={"form": {"phone": "not digits"}})
    assert r.status_code == 422


def test_the_cli_shows_status_and_dead_letters_and_retries(tmp_path, monkeypatch):
    with hall(tmp_path) as h:
        receipt = refused_letter(h)
        url = h.settings.database_url
        data_dir = h.settings.data_dir
    for name, value in (("EDGE_DATABASE_URL", url), ("EDGE_DATA_DIR", str(data_dir)),
                        ("EDGE_HALL_SECRET", HALL_SECRET), ("EDGE_CENTRAL_API_KEY", CENTRAL_KEY)):
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    result = runner.invoke(edge_app, ["outbox", "status"])
    assert result.exit_code == 0, result.output
    assert "depth 0" in result.output and "dead letters 1" in result.output
    result = runner.invoke(edge_app, ["outbox", "dead-letters"])
    assert result.exit_code == 0 and receipt in result.output and "risk-refused" in result.output
    result = runner.invoke(edge_app, ["outbox", "retry", receipt, "--field", "phone=13800000000"])
    assert result.exit_code == 0, result.output
    assert "requeued as R" in result.output
    result = runner.invoke(edge_app, ["outbox", "retry", receipt])
    assert result.exit_code == 1 and "already-retried" in result.output
    result = runner.invoke(edge_app, ["outbox", "status"])
    assert "depth 1" in result.output and "dead letters 0" in result.output
