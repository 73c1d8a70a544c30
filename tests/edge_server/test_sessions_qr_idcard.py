"""Opening sessions with an electronic social security card code (`qr`) and a resident ID card
(`idcard`), through the real central simulator (edge-api.md, POST /api/v1/sessions)."""

import datetime as dt

import httpx
import pytest

from common import citizen_id
from common.masking import mask_name
from edge_server.central import CentralUnavailable, TokenExpired, TokenInvalid
from edge_server.central.client import CentralClient
from edge_server.central.errors import TokenOtherTerminal, TokenUsed
from tests.edge_server.support import PROBLEM, headers, new_key

SESSIONS = "/api/v1/sessions"
VERIFY = "/central/v1/ecard-tokens/verify"


def issue(h, citizen: dict, **body) -> str:
    r = h.central.post("/sim/v1/ecard-tokens", json={"citizen_id": citizen["citizen_id"], **body})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def open_qr(h, token: str, device: str = "kiosk-01", key: str | None = None) -> httpx.Response:
    return h.edge.post(SESSIONS, json={"method": "qr", "qr": {"token": token}},
                       headers=headers(device, key or new_key()))


def idcard_body(citizen: dict, **changes) -> dict:
    card = {"citizen_id": citizen["citizen_id"], "name": citizen["name"],
            "valid_until": "2036-01-01", **changes}
    return {"method": "idcard", "idcard": card}


def open_idcard(h, citizen: dict, key: str | None = None, **changes) -> httpx.Response:
    return h.edge.post(SESSIONS, json=idcard_body(citizen, **changes),
                       headers=headers("kiosk-01", key or new_key()))


def refusals(h) -> list[str]:
    return [row[0] for row in h.sql(
        "SELECT outcome FROM audit_log WHERE action = 'session.refused' ORDER BY seq")]


# -- qr ------------------------------------------------------------------------------------------
def test_qr_opens_a_session_of_the_codes_citizen(h):
    citizen = h.citizen(receiving_pension=True)
    token = issue(h, citizen)
    r = open_qr(h, token)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["citizen"]["display_name"] == mask_name(citizen["name"])
    assert body["citizen"]["card_status"] == "not-presented"
    assert body["stale"] is False
    assert token not in r.text and citizen["citizen_id"] not in r.text
    assert h.benefits(body["session_id"]).status_code == 200
    assert h.link.calls.count(VERIFY) == 1


def test_qr_verify_names_the_asking_terminal(h):
    citizen = h.citizen()
    token = issue(h, citizen, device_id="kiosk-01")
    r = open_qr(h, token, device="kiosk-02")
    assert (r.status_code, r.json()["code"]) == (403, "token-other-terminal")
    assert r.headers["content-type"] == PROBLEM
    assert open_qr(h, token, device="kiosk-01").status_code == 201, "a refusal does not use it"


def test_qr_replay_is_409_but_the_same_idempotency_key_replays_the_session(h):
    token = issue(h, h.citizen())
    key = new_key()
    first = open_qr(h, token, key=key)
    assert first.status_code == 201
    again = open_qr(h, token, key=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert h.link.calls.count(VERIFY) == 1, "an idempotent retry does not ask central again"
    replay = open_qr(h, token)
    assert (replay.status_code, replay.json()["code"]) == (409, "token-used")


def test_qr_expired_is_410(h):
    token = issue(h, h.citizen(), ttl_s=30)
    h.clock.advance(30)
    r = open_qr(h, token)
    assert (r.status_code, r.json()["code"]) == (410, "token-expired")


@pytest.mark.parametrize("forge", [
    lambda t: t[:-4] + ("AAAA" if t[-4:] != "AAAA" else "BBBB"),
    lambda t: t[:20],
    lambda _t: "A" * 512,
])
def test_qr_forged_is_422_token_invalid(h, forge):
    token = forge(issue(h, h.citizen()))
    r = open_qr(h, token)
    assert (r.status_code, r.json()["code"]) == (422, "token-invalid")
    assert token not in r.text
    assert refusals(h) == ["token-invalid"]


@pytest.mark.parametrize("text", ["https://example.com/pay?x=1", "tok en", "a*b"])
def test_qr_of_another_kind_is_token_invalid_without_asking_central(h, text):
    r = open_qr(h, text)
    assert (r.status_code, r.json()["code"]) == (422, "token-invalid")
    assert VERIFY not in h.link.calls


@pytest.mark.parametrize("body", [
    {"method": "qr"},
    {"method": "qr", "qr": {}},
    {"method": "qr", "qr": {"token": ""}},
    {"method": "qr", "qr": {"token": "A" * 513}},
    {"method": "qr", "qr": {"token": "令牌"}},
    {"method": "qr", "qr": {"token": 5}},
    {"method": "face", "qr": {"token": "abc"}},
])
def test_qr_schema_violations_are_validation_errors(h, body):
    r = h.edge.post(SESSIONS, json=body, headers=headers("kiosk-01", new_key()))
    assert (r.status_code, r.json()["code"]) == (422, "validation-error")


def test_qr_while_central_is_down_is_503_with_retry_after(h):
    token = issue(h, h.citizen())
    h.outage(True)
    r = open_qr(h, token)
    assert (r.status_code, r.json()["code"]) == (503, "central-unavailable")
    assert "retry-after" in r.headers
    h.outage(False)
    assert open_qr(h, token).status_code == 201, "an unanswered verify did not use the code"


def test_qr_refusals_are_rate_limited_like_card_refusals(tmp_path):
    from tests.edge_server.support import hall

    with hall(tmp_path, identify_device_burst=4, identify_failure_cost=2) as h:
        statuses = [open_qr(h, "A" * 56).status_code for _ in range(4)]
    assert statuses[:2] == [422, 422] and 429 in statuses


# -- the client's answers, each refusal its own error -------------------------------------------
@pytest.mark.parametrize("status,code,error", [
    (409, "token-used", TokenUsed),
    (403, "token-other-terminal", TokenOtherTerminal),
    (410, "token-expired", TokenExpired),
    (422, "token-invalid", TokenInvalid),
    (403, "forbidden", CentralUnavailable),
    (409, "conflict", CentralUnavailable),
])
def test_client_maps_each_token_refusal(status, code, error):
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={"type": "about:blank", "title": code, "status": status,
                                            "code": code},
                              headers={"content-type": PROBLEM})

    http = httpx.Client(base_url="http://central", transport=httpx.MockTransport(answer))
    client = CentralClient("http://central", "k", http=http)
    with pytest.raises(error):
        client.verify_ecard_token("abc", "kiosk-09")
    assert b'"device_id":"kiosk-09"' in seen[0].content.replace(b" ", b"")


# -- idcard --------------------------------------------------------------------------------------
def test_idcard_opens_a_session(h):
    citizen = h.citizen(receiving_pension=True)
    r = open_idcard(h, citizen)
    assert r.status_code == 201, r.text
    assert r.json()["citizen"]["card_status"] == "not-presented"
    assert r.json()["citizen"]["display_name"] == mask_name(citizen["name"])
    assert citizen["citizen_id"] not in r.text and citizen["name"] not in r.text
    assert h.benefits(r.json()["session_id"]).status_code == 200


def test_idcard_valid_for_life_and_on_its_last_day(h):
    citizen = h.citizen()
    assert open_idcard(h, citizen, valid_until="长期").status_code == 201
    # The fake clock is 2026-11-22 10:00 in China.
    assert open_idcard(h, citizen, valid_until="2026-11-22").status_code == 201


def test_idcard_expired_is_403_before_asking_central(h):
    r = open_idcard(h, h.citizen(), valid_until="2026-11-21")
    assert (r.status_code, r.json()["code"]) == (403, "idcard-expired")
    assert "/central/v1/persons/query" not in h.link.calls
    assert refusals(h) == ["idcard-expired"]


def test_idcard_name_must_be_centrals(h):
    citizen = h.citizen()
    other = "王" + citizen["name"][1:] if not citizen["name"].startswith("王") else "李" + (
        citizen["name"][1:])
    r = open_idcard(h, citizen, name=other)
    assert (r.status_code, r.json()["code"]) == (403, "idcard-mismatch")
    assert citizen["name"] not in r.text and other not in r.text
    # Spaces and the width of characters do not make a different name.
    spaced = " ".join(citizen["name"])
    assert open_idcard(h, citizen, name=spaced).status_code == 201


def test_idcard_unknown_citizen_is_404(h):
    stranger = citizen_id.make("110105", dt.date(1950, 6, 1), 3)
    r = open_idcard(h, {**h.citizen(), "citizen_id": stranger})
    assert (r.status_code, r.json()["code"]) == (404, "citizen-not-found")
    assert stranger not in r.text


@pytest.mark.parametrize("bad", ["11010519491231002Y", "1101051949123100", "110105194913310020"])
def test_idcard_malformed_citizen_id_is_422(h, bad):
    r = open_idcard(h, h.citizen(), citizen_id=bad)
    assert (r.status_code, r.json()["code"]) == (422, "invalid-citizen-id")
    assert bad not in r.text


@pytest.mark.parametrize("changes", [
    {"valid_until": "2026-02-30"}, {"valid_until": "forever"}, {"valid_until": ""},
    {"name": "张" * 31}, {"name": "张\x00三"}, {"name": ""}, {"citizen_id": "1" * 33},
])
def test_idcard_schema_violations_are_validation_errors(h, changes):
    r = open_idcard(h, h.citizen(), **changes)
    assert (r.status_code, r.json()["code"]) == (422, "validation-error")


def test_idcard_while_central_is_down_answers_from_the_cache(h):
    citizen = h.citizen()
    assert open_idcard(h, citizen).status_code == 201
    h.outage(True)
    r = open_idcard(h, citizen)
    assert r.status_code == 201 and r.json()["stale"] is True


def test_idcard_name_cut_at_15_characters_matches_a_longer_record():
    from edge_server.services.sessions import _same_name

    long_name = "买买提·艾力·阿不都热合曼·吐尔逊"
    assert _same_name(long_name[:15], long_name)
    assert not _same_name(long_name[:14], long_name), "only a full field is a cut one"
    assert _same_name("买买提・艾力", "买买提·艾力"), "middle-dot variants are one dot"
    assert not _same_name("买买提", "买买提·艾力")
