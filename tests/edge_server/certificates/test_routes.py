"""The certificate routes through the real app (edge-api.md, "Certificates"): issue for a session,
the same certificate on a retry, the signed PDF for its device only, the public verification by
code (JSON and HTML) and by PDF — genuine, tampered, unknown, forged — and nothing stored in the
clear."""

import hashlib
import html
import io
import json
import re
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fpdf import FPDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from edge_server.certificates import codes, pki, signing
from tests.edge_server.support import PROBLEM, Hall, hall, headers, new_key

JSON = {"Accept": "application/json"}
PDF = {"Content-Type": "application/pdf"}


def session_of(h: Hall, citizen: dict, device: str = "kiosk-01") -> str:
    r = h.open(citizen, device=device)
    assert r.status_code == 201, r.text
    return r.json()["session_id"]


def issue(h: Hall, sid: str, kind: str = "participation", device: str = "kiosk-01",
          key: str | None = None):
    return h.edge.post(f"/api/v1/sessions/{sid}/certificates", json={"kind": kind},
                       headers=headers(device, key or new_key()))


@pytest.fixture(scope="module")
def hm(tmp_path_factory) -> Iterator[Hall]:
    """One SQLite hall for the module (issuing renders and signs: share the setup)."""
    with hall(tmp_path_factory.mktemp("certs"), raise_server_exceptions=False) as instance:
        yield instance


@pytest.fixture(scope="module")
def issued(hm) -> dict:
    citizen = hm.citizen(card_status="normal")
    sid = session_of(hm, citizen)
    r = issue(hm, sid, "rights-record")
    assert r.status_code == 201, r.text
    view = r.json()
    pdf = hm.edge.get(view["pdf_url"], headers=headers())
    assert pdf.status_code == 200
    return {"citizen": citizen, "sid": sid, "view": view, "pdf": pdf.content}


# -- issue (both backends) ------------------------------------------------------------------------
def test_a_certificate_is_issued_verified_and_stored_sealed(h: Hall):
    citizen = h.citizen(card_status="normal")
    sid = session_of(h, citizen)
    r = issue(h, sid)
    assert r.status_code == 201, r.text
    view = r.json()
    code = view["code"]
    assert codes.normalise(code) == code and view["kind"] == "participation"
    assert view["title"] == "参保证明" and view["stale"] is False
    assert view["pdf_url"] == f"/api/v1/certificates/{code}/pdf"
    assert view["verify_url"].endswith(f"/verify/{code}")
    assert view["receipt"]["qr"] == view["verify_url"]

    pdf = h.edge.get(view["pdf_url"], headers=headers())
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) == view["pdf_bytes"]
    assert hashlib.sha256(pdf.content).hexdigest() == view["pdf_sha256"]

    checked = h.edge.get(f"/verify/{code}", headers=JSON).json()
    assert checked["status"] == "genuine" and checked["genuine"] is True
    cert = checked["certificate"]
    assert cert["citizen_id_masked"] == citizen["citizen_id"][:6] + "*" * 8 + (
        citizen["citizen_id"][-4:])
    assert cert["name_masked"].startswith(citizen["name"][0]) and "*" in cert["name_masked"]
    assert citizen["citizen_id"] not in str(checked) and citizen["name"] not in str(checked)

    by_pdf = h.edge.post("/verify/pdf", content=pdf.content, headers=PDF).json()
    assert by_pdf == {**by_pdf, "status": "genuine", "genuine": True, "signature_valid": True,
                      "code": code, "code_known": True, "matches_issued": True}

    assert h.count("issued_certificate") == 1
    assert h.sql("SELECT outcome FROM audit_log WHERE action = 'certificate.issued'") == [
        (f"participation:{code}",)]
    stored = h.database_bytes()
    for secret in (citizen["citizen_id"].encode(), citizen["name"].encode(), b"%PDF"):
        assert secret not in stored


# -- idempotency ----------------------------------------------------------------------------------
def test_a_retry_with_the_same_key_gets_the_same_certificate(hm):
    sid = session_of(hm, hm.citizen(3, card_status="normal"))
    before = hm.count("issued_certificate")
    key = new_key()
    first = issue(hm, sid, key=key)
    again = issue(hm, sid, key=key)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert hm.count("issued_certificate") == before + 1
    other_body = issue(hm, sid, "rights-record", key=key)
    assert other_body.status_code == 422 and other_body.json()["code"] == "idempotency-key-reused"
    no_key = hm.edge.post(f"/api/v1/sessions/{sid}/certificates", json={"kind": "participation"},
                          headers=headers())
    assert no_key.status_code == 400 and no_key.json()["code"] == "idempotency-key-required"


def test_concurrent_first_uses_of_a_key_make_one_certificate(hm):
    sid = session_of(hm, hm.citizen(4, card_status="normal"))
    before = hm.count("issued_certificate")
    key = new_key()
    answers = []
    barrier = threading.Barrier(3)

    def go() -> None:
        barrier.wait()
        answers.append(issue(hm, sid, key=key))

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert hm.count("issued_certificate") == before + 1
    codes_seen = {a.json()["code"] for a in answers if a.status_code == 201}
    assert len(codes_seen) == 1
    assert all(a.status_code in (201, 409) for a in answers)


# -- what a kiosk may fetch -----------------------------------------------------------------------
def test_the_pdf_is_for_the_issuing_device_only(hm, issued):
    url = issued["view"]["pdf_url"]
    assert hm.edge.get(url, headers=headers("kiosk-02")).status_code == 404
    assert hm.edge.get(url).status_code == 401
    unknown = hm.edge.get(f"/api/v1/certificates/{codes.new_code()}/pdf", headers=headers())
    assert unknown.status_code == 404 and unknown.json()["code"] == "certificate-not-found"
    junk = hm.edge.get("/api/v1/certificates/%00%FF/pdf", headers=headers())
    assert junk.status_code == 404 and junk.headers["content-type"] == PROBLEM


def test_another_devices_or_an_ended_session_issues_nothing(hm):
    sid = session_of(hm, hm.citizen(5, card_status="normal"))
    r = issue(hm, sid, device="kiosk-02")
    assert r.status_code == 404 and r.json()["code"] == "session-not-found"
    assert hm.end(sid).status_code == 204
    r = issue(hm, sid)
    assert r.status_code == 404 and r.json()["code"] == "session-not-found"


def test_the_rights_record_holds_contributions_and_payments(hm, issued):
    text = "".join(PdfReader(io.BytesIO(issued["pdf"])).pages[0].extract_text().split())
    for heading in ("个人权益记录", "参保情况", "缴费记录", "待遇发放", issued["citizen"]["name"]):
        assert heading in text
    lines = [line["text"] for line in issued["view"]["receipt"]["lines"]]
    assert "缴费记录" in lines and "待遇发放" in lines


def test_central_down_with_nothing_cached_is_503_and_then_issues_from_cache(hm):
    citizen = hm.citizen(6, card_status="normal")
    sid = session_of(hm, citizen)
    hm.link.down = True
    try:
        r = issue(hm, sid, "rights-record")  # contributions were never cached
        assert r.status_code == 503 and r.json()["code"] == "central-unavailable"
        assert "Retry-After" in r.headers
        hm.clock.advance(hm.settings.cache_ttl_s + 1)  # past the TTL, within the session's
        ok = issue(hm, sid, "participation")  # the person is cached since identify
        assert ok.status_code == 201 and ok.json()["stale"] is True
    finally:
        hm.link.down = False


# -- the on-screen QR code's download link ------------------------------------------------------
def test_the_download_link_fetches_the_pdf_without_a_credential_until_it_expires(tmp_path):
    with hall(tmp_path, certificate_download_ttl_s=60) as h:
        sid = session_of(h, h.citizen(card_status="normal"))
        view = issue(h, sid).json()
        path = view["download_url"].removeprefix(view["verify_url"].split("/verify/")[0])
        assert path.startswith("/certificates/download/")
        token = path.rsplit("/", 1)[1]
        assert token not in view["verify_url"] and view["code"] not in path
        got = h.edge.get(path)
        assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
        assert hashlib.sha256(got.content).hexdigest() == view["pdf_sha256"]
        assert "attachment" in got.headers["content-disposition"]
        stored = h.sql("SELECT download_sha256 FROM issued_certificate")[0][0]
        assert stored == hashlib.sha256(token.encode()).hexdigest()  # not the token itself
        for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x", view["code"]):
            r = h.edge.get(f"/certificates/download/{wrong}")
            assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        assert h.edge.get("/certificates/download/" + "A" * 65).status_code == 422
        h.clock.advance(61)
        expired = h.edge.get(path)
        assert expired.status_code == 404 and expired.json()["code"] == "certificate-not-found"


# -- public verification by code ------------------------------------------------------------------
def test_verify_by_code_for_people_and_machines(hm, issued):
    code = issued["view"]["code"]
    page = hm.edge.get(f"/verify/{code}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "真实有效" in page.text and html.escape(code) in page.text
    assert issued["citizen"]["citizen_id"] not in page.text
    assert issued["citizen"]["name"] not in page.text
    lower = hm.edge.get(f"/verify/{code.lower().replace('-', '')}", headers=JSON).json()
    assert lower["status"] == "genuine" and lower["code"] == code


def test_unknown_and_tampered_codes_say_so(hm, issued):
    unknown = hm.edge.get(f"/verify/{codes.new_code()}", headers=JSON)
    assert unknown.status_code == 200
    assert unknown.json() == {**unknown.json(), "status": "unknown", "genuine": False,
                              "certificate": None}
    code = issued["view"]["code"]
    tampered = ("3" if code[0] != "3" else "4") + code[1:]
    body = hm.edge.get(f"/verify/{tampered}", headers=JSON).json()
    assert body["status"] == "malformed" and body["genuine"] is False
    page = hm.edge.get(f"/verify/{tampered}")
    assert "验证码无效" in page.text
    slashed = hm.edge.get("/verify/..%2F..%2Fetc", headers=JSON)  # no such route: a 404
    assert slashed.status_code == 404 and slashed.headers["content-type"] == PROBLEM
    for junk in ("%3Cscript%3E", "x", "%E4%BD%A0" * 5, "%00", "A-A-A-A-"):
        r = hm.edge.get(f"/verify/{junk}", headers=JSON)
        assert r.status_code == 200 and r.json()["genuine"] is False, junk
        assert "<script>" not in hm.edge.get(f"/verify/{junk}").text
    assert hm.edge.get("/verify/" + "A" * 65).status_code == 422


def test_a_row_changed_in_the_database_is_not_genuine(hm):
    sid = session_of(hm, hm.citizen(7, card_status="normal"))
    code = issue(hm, sid).json()["code"]
    hm.sql("UPDATE issued_certificate SET payload = :p WHERE code = :c", p=b"\x00" * 64, c=code)
    assert hm.edge.get(f"/verify/{code}", headers=JSON).json()["status"] == "unknown"


# -- public verification by PDF -------------------------------------------------------------------
def test_a_flipped_byte_unknown_code_or_forged_signature_is_refused(hm, issued, tmp_path):
    pdf = issued["pdf"]
    tampered = bytearray(pdf)
    tampered[pdf.index(b"/CreationDate") + 20] ^= 1
    r = hm.edge.post("/verify/pdf", content=bytes(tampered), headers=PDF).json()
    assert r["status"] == "signature-invalid" and not r["genuine"] and not r["signature_valid"]
    assert r["matches_issued"] is False

    # Signed by a CA that is not the province's: the signature is sound, the signer untrusted.
    stranger_dir = tmp_path / "stranger"
    pki._make_dev_pair(stranger_dir / "k.pem", stranger_dir / "c.pem", stranger_dir / "r.pem")
    stranger = pki._load(stranger_dir / "k.pem", stranger_dir / "c.pem", stranger_dir / "r.pem")
    doc = FPDF()
    doc.set_subject("hrss-certificate:" + issued["view"]["code"])
    doc.add_page()
    forged = signing.sign_pdf(bytes(doc.output()), stranger, reason="x", location="y")
    r = hm.edge.post("/verify/pdf", content=forged, headers=PDF).json()
    assert r["status"] == "untrusted" and not r["genuine"]

    # Genuinely signed by our office, but under a code we never issued.
    creds = pki.office_credentials(hm.settings)
    other = FPDF()
    other.set_subject("hrss-certificate:" + codes.new_code())
    other.add_page()
    ours = signing.sign_pdf(bytes(other.output()), creds, reason="x", location="y")
    r = hm.edge.post("/verify/pdf", content=ours, headers=PDF).json()
    assert r["status"] == "unknown-code" and r["signature_valid"] and not r["genuine"]

    unsigned = hm.edge.post("/verify/pdf", content=bytes(doc.output()), headers=PDF).json()
    assert unsigned["status"] == "no-signature"


def test_hostile_pdf_bodies_get_a_verdict_or_a_4xx(hm, issued):
    pdf = issued["pdf"]
    for body in (b"", b"%PDF-", b"\xff" * 4096, pdf[: len(pdf) // 2], pdf[::-1],
                 pdf.replace(b"/ByteRange", b"/ByteRangX"), b"%PDF-1.7\n" + b"[" * 50_000):
        r = hm.edge.post("/verify/pdf", content=body, headers=PDF)
        assert r.status_code == 200, (r.status_code, r.text[:200])
        assert r.json()["genuine"] is False
    wrong_type = hm.edge.post("/verify/pdf", content=pdf, headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415 and wrong_type.headers["content-type"] == PROBLEM
    huge = hm.edge.post("/verify/pdf", content=b"%PDF" + b"0" * (5 * 1024 * 1024), headers=PDF)
    assert huge.status_code == 413 and huge.json()["code"] == "payload-too-large"


def test_hostile_issue_bodies_are_4xx(hm):
    sid = session_of(hm, hm.citizen(8, card_status="normal"))
    url = f"/api/v1/sessions/{sid}/certificates"
    for body in ({"kind": "x"}, {"kind": None}, {}, [], {"kind": "participation", "extra": 1},
                 {"kind": "参保证明"}, "participation"):
        r = hm.edge.post(url, json=body, headers=headers(key=new_key()))
        assert r.status_code == 422, (body, r.status_code)
        assert r.headers["content-type"] == PROBLEM
    r = hm.edge.post(url, content=b"{not json", headers={**headers(key=new_key()),
                                                           "Content-Type": "application/json"})
    assert r.status_code in (400, 422) and r.headers["content-type"] == PROBLEM
    r = hm.edge.post(url, content=b"x" * 100_000, headers={**headers(key=new_key()),
                                                             "Content-Type": "application/json"})
    assert r.status_code == 413
    r = hm.edge.post("/api/v1/sessions/ses%00/certificates", json={"kind": "participation"},
                     headers=headers(key=new_key()))
    assert r.status_code in (404, 422)
    assert re.fullmatch(r"[0-9]+", str(hm.count("issued_certificate")))


# -- property tests: no input gives a 5xx ---------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
code_text = st.text(max_size=70) | st.sampled_from(
    ["pdf", "%00", "ＡＢＣＤ-ＥＦＧＨ", "\u202e", "2222-2222-2222-2222", "A" * 64])
# Header values as bytes: any Latin-1 octet a client may send.
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF),
                      max_size=200).map(lambda t: t.encode("latin-1"))
FIXTURES = [HealthCheck.function_scoped_fixture]


def assert_no_5xx(r) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code >= 400:
        assert r.headers["content-type"] == PROBLEM, r.headers


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES)
@given(code=code_text, accept=header_text)
def test_any_code_and_accept_header_get_an_answer(hm, code, accept):
    r = hm.edge.get(f"/verify/{quote(code, safe='')}", headers={"Accept": accept})
    assert_no_5xx(r)
    r = hm.edge.get(f"/api/v1/certificates/{quote(code, safe='')}/pdf", headers=headers())
    assert_no_5xx(r)
    assert_no_5xx(hm.edge.get(f"/certificates/download/{quote(code, safe='')}"))


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURES)
@given(body=st.binary(max_size=4096), content_type=header_text)
def test_any_pdf_body_and_content_type_get_an_answer(hm, body, content_type):
    assert_no_5xx(hm.edge.post("/verify/pdf", content=body,
                               headers={"Content-Type": content_type}))
    r = hm.edge.post("/verify/pdf", content=b"%PDF-1.7\n" + body, headers=PDF)
    assert r.status_code == 200 and r.json()["genuine"] is False


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURES)
@given(body=json_values | st.fixed_dictionaries({"kind": json_values}),
       key=header_text)
def test_any_issue_body_or_key_gets_a_4xx(hm, issued, body, key):
    r = hm.edge.post(f"/api/v1/sessions/{issued['sid']}/certificates", content=json.dumps(body),
                     headers={**headers(), "Idempotency-Key": key,
                              "Content-Type": "application/json"})
    assert_no_5xx(r)
    assert r.status_code != 201 or body in ({"kind": "participation"},
                                            {"kind": "rights-record"})


def test_certificates_past_their_retention_are_purged(tmp_path):
    from edge_server.services import certificates as service

    with hall(tmp_path, certificate_retention_days=1) as h:
        sid = session_of(h, h.citizen(card_status="normal"))
        code = issue(h, sid).json()["code"]
        ctx = h.edge.app.state.edge
        assert service.purge(ctx) == 0
        h.clock.advance(86400 + 1)
        assert service.purge(ctx) == 1
        assert h.edge.get(f"/verify/{code}", headers=JSON).json()["status"] == "unknown"
