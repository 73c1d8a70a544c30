"""No input produces a 5xx: property tests through the real app (every route, hostile bodies of
any shape, depth and size, any headers, content types and methods). Every refusal is a
problem+json document. schemathesis against a real process: test_openapi.py."""

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.edge_server.support import PROBLEM, card_body, contract_token, hall

PATHS = ["/api/v1/sessions", "/api/v1/sessions/ses_abc", "/api/v1/sessions/ses_abc/benefits",
         "/api/v1/device/token", "/api/v1/health", "/api/v1/sessions/%00", "/api/v1/x",
         "/api/v1/sessions/ses_abc/subsidies", "/api/v1/sessions/ses_abc/applications",
         "/api/v1/sessions/ses_abc/applications/precheck", "/api/v1/sessions/ses_abc/card",
         "/api/v1/card-loss/reports", "/api/v1/card-loss/reversals",
         "/api/v1/submissions/R20261122ABCDEFGHJK", "/api/v1/submissions/%E4%BD%A0"]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
LIMITS = {"identify_device_burst": 1e9, "identify_hall_burst": 1e9, "pin_citizen_burst": 1e9,
          "pin_device_burst": 1e9, "outbox_sync_wait_s": 0}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
# Strings that broke or could break an encoder, a regex or a database key.
nasty_text = st.sampled_from([
    "１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X\n", "\ud800", "\x00", "٣" * 18,
    "1" * 10_000, "", " ", "x" * 33, "张三" * 40, "\u202e", "../../etc/passwd", "%00", "𠀀" * 20,
]) | st.text(max_size=64)
card_fields = st.fixed_dictionaries({}, optional={
    "citizen_id": nasty_text | json_values, "card_number": nasty_text | json_values,
    "name": nasty_text | json_values, "card_id_code": nasty_text | json_values,
    "spec_version": nasty_text | json_values,
})
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"method": st.sampled_from(["card", "qr", "", 1]) | json_values,
                           "card": card_fields | json_values}),
)
pins = st.sampled_from(["123456", "12345", "1234567", "１２３４５６", "12345\n", ""]) | json_values
application_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={
        "subsidy": st.sampled_from(["skill-upgrade", "x" * 41, "A", "\x00"]) | nasty_text
        | json_values,
        "period": st.sampled_from(["2026", "2026-11", "once", "2026-13", "0"]) | json_values,
        "form": st.dictionaries(nasty_text, nasty_text | json_values, max_size=6) | json_values,
    }),
)
loss_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={"citizen_id": nasty_text | json_values, "pin": pins,
                                        "card": card_fields | json_values}),
)
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF),
                      max_size=300)


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> Iterator:
    with hall(tmp_path_factory.mktemp("hostile"), raise_server_exceptions=False, **LIMITS) as h:
        yield h


def assert_no_5xx(r) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code >= 400 and r.request.method != "HEAD":
        assert r.headers["content-type"] == PROBLEM, r.headers
        assert isinstance(r.json()["code"], str)


def good_headers(key: str = "k-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {contract_token('kiosk-01')}", "Idempotency-Key": key}


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, key=st.uuids())
def test_any_json_body_on_identify(edge, body, key):
    # json.dumps, not httpx's json=: it escapes lone surrogates and writes NaN, as a hostile
    # client may.
    r = edge.edge.post("/api/v1/sessions", content=json.dumps(body).encode(),
                       headers={**good_headers(str(key)), "Content-Type": "application/json"})
    assert_no_5xx(r)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(METHODS), path=st.sampled_from(PATHS),
    authorization=st.none() | header_text | st.builds(lambda t: f"Bearer {t}", header_text),
    key=st.none() | header_text, content_type=st.none() | header_text,
    raw=st.binary(max_size=2000) | st.builds(lambda v: json.dumps(v).encode(), json_values),
)
def test_any_method_path_headers_and_bytes(edge, method, path, authorization, key,
                                           content_type, raw):
    headers: dict[str, bytes] = {}  # bytes: latin-1 text goes on the wire as a client sends it
    if authorization is not None:
        headers["Authorization"] = authorization.encode("latin-1")
    if key is not None:
        headers["Idempotency-Key"] = key.encode("latin-1")
    if content_type is not None:
        headers["Content-Type"] = content_type.encode("latin-1")
    r = edge.edge.request(method, path, content=raw if method not in ("GET", "HEAD") else None,
                          headers=headers)
    assert_no_5xx(r)


@pytest.mark.parametrize("citizen_id", [
    "１１０１０５１９４９１２３１００２Ｘ",  # full-width: passed the old regex, then crashed
    "١١٠١٠٥١٩٤٩١٢٣١٠٠٢٩",  # Arabic-Indic digits
    "\ud800" * 18,
    "11010519491231002X\x00",
])
def test_non_ascii_citizen_ids_are_refused_as_data(edge, citizen_id):
    body = card_body(edge.citizen())
    body["card"]["citizen_id"] = citizen_id
    r = edge.edge.post("/api/v1/sessions", content=json.dumps(body).encode(),
                       headers={**good_headers(f"id-{len(citizen_id)}-{ord(citizen_id[0])}"),
                                "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["code"] in ("validation-error", "invalid-citizen-id")


def test_deep_and_wide_json_is_refused_cleanly(edge):
    for raw in (b"[" * 30_000 + b"]" * 30_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
                b'{"method":"card","card":' + b"[" * 20_000 + b"]" * 20_000 + b"}",
                json.dumps({str(n): n for n in range(5000)}).encode()):
        r = edge.edge.post("/api/v1/sessions", content=raw,
                           headers={**good_headers(f"deep-{len(raw)}"),
                                    "Content-Type": "application/json"})
        assert_no_5xx(r)
        assert r.status_code in (400, 413, 422)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml"])
def test_a_body_that_is_not_json_is_415(edge, content_type):
    r = edge.edge.post("/api/v1/sessions", content=json.dumps(card_body(edge.citizen())),
                       headers={**good_headers(f"ct-{len(content_type)}"),
                                "Content-Type": content_type})
    assert (r.status_code, r.json()["code"]) == (415, "unsupported-media-type")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/api/v1/sessions", "POST"),
    ("PATCH", "/api/v1/sessions/ses_abc", "DELETE, GET"),
    ("POST", "/api/v1/sessions/ses_abc/benefits", "GET"),
    ("DELETE", "/api/v1/health", "GET"),
    ("GET", "/api/v1/device/token", "POST"),
])
def test_a_wrong_method_is_405_with_allow(edge, method, path, allow):
    r = edge.edge.request(method, path, headers=good_headers())
    assert r.status_code == 405 and r.json()["code"] == "method-not-allowed"
    assert r.headers["allow"] == allow


@pytest.mark.parametrize("key", ["", " ", "k" * 129, "has space", "ключ", "a/b", "a\tb"])
def test_malformed_idempotency_keys_are_400(edge, key):
    r = edge.edge.post("/api/v1/sessions", json=card_body(edge.citizen()),
                       headers={**good_headers(), "Idempotency-Key": key.encode()})  # UTF-8
    assert (r.status_code, r.json()["code"]) == (400, "idempotency-key-required")



@pytest.fixture(scope="module")
def live_session(edge) -> str:
    r = edge.edge.post("/api/v1/sessions", json=card_body(edge.citizen(card_status="normal")),
                       headers=good_headers("hostile-session"))
    assert r.status_code == 201, r.text
    return r.json()["session_id"]


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=application_bodies, key=st.uuids(), precheck=st.booleans())
def test_any_body_on_apply_and_precheck(edge, live_session, body, key, precheck):
    path = f"/api/v1/sessions/{live_session}/applications" + ("/precheck" if precheck else "")
    r = edge.edge.post(path, content=json.dumps(body).encode(),
                       headers={**good_headers(str(key)), "Content-Type": "application/json"})
    assert_no_5xx(r)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=loss_bodies, key=st.uuids(), reversal=st.booleans())
def test_any_body_on_loss_report_and_reversal(edge, body, key, reversal):
    path = "/api/v1/card-loss/" + ("reversals" if reversal else "reports")
    r = edge.edge.post(path, content=json.dumps(body).encode(),
                       headers={**good_headers(str(key)), "Content-Type": "application/json"})
    assert_no_5xx(r)
    assert r.status_code in (201, 400, 409, 422, 429), r.text[:300]


def test_another_devices_session_is_404_on_every_session_route(edge, live_session):
    other = {"Authorization": f"Bearer {contract_token('kiosk-02')}"}
    base = f"/api/v1/sessions/{live_session}"
    body = {"subsidy": "skill-upgrade", "period": "2026", "form": {}}
    for method, path, payload in (
        ("GET", f"{base}/subsidies", None), ("GET", f"{base}/applications", None),
        ("GET", f"{base}/card", None), ("POST", f"{base}/applications/precheck", body),
        ("POST", f"{base}/applications", body),
    ):
        r = edge.edge.request(method, path, json=payload,
                              headers={**other, "Idempotency-Key": f"other-{len(path)}"})
        assert (r.status_code, r.json()["code"]) == (404, "session-not-found"), path


def test_a_used_key_with_another_body_is_422_on_every_submission(edge, live_session):
    citizen = edge.citizen(card_status="normal")
    cases = [
        (f"/api/v1/sessions/{live_session}/applications",
         # Periods the property test above never sends: no claim held already.
         {"subsidy": "skill-upgrade", "period": "2101-01", "form": {}},
         {"subsidy": "skill-upgrade", "period": "2101-02", "form": {}}),
        ("/api/v1/card-loss/reports", {"citizen_id": citizen["citizen_id"], "pin": "000000"},
         {"citizen_id": citizen["citizen_id"], "pin": "000001"}),
        ("/api/v1/card-loss/reversals", {"card": card_body(citizen)["card"], "pin": "000000"},
         {"card": card_body(citizen)["card"], "pin": "000001"}),
    ]
    for n, (path, first, second) in enumerate(cases):
        key = f"reused-{n}"
        assert edge.edge.post(path, json=first, headers=good_headers(key)).status_code == 201
        r = edge.edge.post(path, json=second, headers=good_headers(key))
        assert (r.status_code, r.json()["code"]) == (422, "idempotency-key-reused"), path
        assert r.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/api/v1/card-loss/reports", "POST"),
    ("GET", "/api/v1/card-loss/reversals", "POST"),
    ("DELETE", "/api/v1/sessions/ses_abc/applications", "GET, POST"),
    ("POST", "/api/v1/submissions/R20261122ABCDEFGHJK", "GET"),
    ("GET", "/api/v1/sessions/ses_abc/applications/precheck", "POST"),
])
def test_a_wrong_method_on_the_new_routes_is_405_with_allow(edge, method, path, allow):
    r = edge.edge.request(method, path, headers=good_headers())
    assert r.status_code == 405 and r.json()["code"] == "method-not-allowed"
    assert r.headers["allow"] == allow
