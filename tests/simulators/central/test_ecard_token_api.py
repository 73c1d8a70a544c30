"""e-SSC tokens through the simulator's HTTP API: single use, terminal binding, each refusal
with its own code (docs/contracts/central-api.md)."""

import pytest

from tests.simulators.central.test_api import pick

VERIFY = "/central/v1/ecard-tokens/verify"


def _issue(central, **body) -> str:
    person = pick(central)
    r = central.post("/sim/v1/ecard-tokens", json={"citizen_id": person["citizen_id"], **body})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def test_a_token_is_single_use(central, auth):
    token = _issue(central)
    assert central.post(VERIFY, json={"token": token}, headers=auth).status_code == 200
    r = central.post(VERIFY, json={"token": token}, headers=auth)
    assert (r.status_code, r.json()["code"]) == (409, "token-used")


def test_a_refused_verification_does_not_consume_the_token(central, auth):
    token = _issue(central, device_id="kiosk-01")
    r = central.post(VERIFY, json={"token": token, "device_id": "kiosk-02"}, headers=auth)
    assert (r.status_code, r.json()["code"]) == (403, "token-other-terminal")
    r = central.post(VERIFY, json={"token": token, "device_id": "kiosk-01"}, headers=auth)
    assert r.status_code == 200


def test_a_bound_token_needs_the_asking_terminal(central, auth):
    token = _issue(central, device_id="kiosk-01")
    r = central.post(VERIFY, json={"token": token}, headers=auth)
    assert (r.status_code, r.json()["code"]) == (403, "token-other-terminal")


def test_an_unbound_token_works_at_any_terminal(central, auth):
    token = _issue(central)
    r = central.post(VERIFY, json={"token": token, "device_id": "kiosk-07"}, headers=auth)
    assert r.status_code == 200


def test_expiry_comes_before_use(central, auth, clock):
    token = _issue(central, ttl_s=5)
    assert central.post(VERIFY, json={"token": token}, headers=auth).status_code == 200
    clock.advance(5)
    r = central.post(VERIFY, json={"token": token}, headers=auth)
    assert (r.status_code, r.json()["code"]) == (410, "token-expired")


@pytest.mark.parametrize("body", [{"ttl_s": 61}, {"ttl_s": 0}, {"device_id": "bad id!"}])
def test_issue_refuses_long_lives_and_bad_device_ids(central, body):
    person = pick(central)
    r = central.post("/sim/v1/ecard-tokens", json={"citizen_id": person["citizen_id"], **body})
    assert r.status_code == 422


def test_verify_refuses_a_bad_device_id(central, auth):
    token = _issue(central)
    r = central.post(VERIFY, json={"token": token, "device_id": "x" * 65}, headers=auth)
    assert r.status_code == 422
