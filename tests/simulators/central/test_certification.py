"""Pension qualification certification at central (issue 7): the status rule with its plain
explanations, the due roster of a village, enrolled templates, terminals' keys, and the intake
of signed records: each recorded exactly once, refused with a code when it must be."""

import datetime as dt
import math
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common import signing
from simulators.central import certification

DEVICE = "kiosk-01"


@pytest.fixture(scope="module")
def template_a() -> tuple[float, ...]:
    return certification.enrolment_template("a")  # once per process (face_recognition)


@pytest.fixture
def key(central) -> Ed25519PrivateKey:
    private = Ed25519PrivateKey.generate()
    r = central.post(f"/sim/v1/devices/{DEVICE}/key",
                     json={"public_key": signing.public_key_b64(private)})
    assert r.status_code == 200, r.text
    return private


def status(central, auth, citizen_id: str) -> dict:
    r = central.post("/central/v1/certification/query", json={"citizen_id": citizen_id},
                     headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def citizen_with(central, auth, wanted: str, skip: int = 0) -> str:
    offset = 0
    while offset is not None:
        page = central.get("/sim/v1/citizens", params={"offset": offset, "limit": 200}).json()
        for item in page["items"]:
            if status(central, auth, item["citizen_id"])["status"] == wanted:
                if skip == 0:
                    return item["citizen_id"]
                skip -= 1
        offset = page["next_offset"]
    raise AssertionError(f"no citizen with status {wanted}")


def record(key: Ed25519PrivateKey, citizen_id: str, at: dt.datetime, **changes) -> dict:
    payload = {"citizen_id": citizen_id, "certified_at": at.isoformat().replace("+00:00", "Z"),
               "method": "hall", "device_id": DEVICE, "location": "朝阳区社保大厅",
               "staff_id": None, "evidence_sha256": "0" * 64, "result": "passed",
               "liveness_version": "liveness-1"}
    payload.update(changes)
    payload["signature"] = signing.sign(key, payload)
    return payload


def submit(central, auth, payload: dict, key_: str | None = None, at=None) -> dict:
    item = {"submission_key": key_ or f"sub_{uuid.uuid4().hex}", "kind": "pension-certification",
            "device_id": DEVICE, "submitted_at": (at or payload["certified_at"]),
            "payload": payload}
    r = central.post("/central/v1/submissions", json={"items": [item]}, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


# -- the rule ----------------------------------------------------------------------------------
def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert certification.add_months(dt.date(2025, 11, 30), 12) == dt.date(2026, 11, 30)
    assert certification.add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert certification.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)


def test_every_status_occurs_and_each_is_explained_in_chinese(central, auth):
    seen: dict[str, dict] = {}
    page = central.get("/sim/v1/citizens", params={"limit": 400}).json()
    for item in page["items"]:
        answer = status(central, auth, item["citizen_id"])
        seen.setdefault(answer["status"], answer)
    assert set(seen) == {"due", "done", "not-due", "not-pensioner", "deceased"}
    for name, answer in seen.items():
        assert answer["cycle_months"] == 12
        assert any("\u4e00" <= ch <= "\u9fff" for ch in answer["explanation"]), name
        assert (answer["reason_code"] is None) == (name == "due")
    due = seen["due"]
    opens = dt.date.fromisoformat(due["opens_on"])
    assert dt.date.fromisoformat(due["due_date"]) - opens == dt.timedelta(days=60)
    assert opens <= dt.date(2026, 11, 22)
    assert seen["done"]["reason_code"] == "already-certified"
    assert dt.date.fromisoformat(seen["done"]["opens_on"]) > dt.date(2026, 11, 22)
    assert seen["not-due"]["last_certified_at"] is None
    assert seen["deceased"]["reason_code"] == "deceased"


def test_the_get_form_answers_the_same_and_unknown_people_are_404(central, auth):
    cid = citizen_with(central, auth, "due")
    got = central.get(f"/central/v1/citizens/{cid}/certification", headers=auth).json()
    posted = status(central, auth, cid)
    assert {k: v for k, v in got.items() if k != "as_of"} == {
        k: v for k, v in posted.items() if k != "as_of"}
    missing = central.post("/central/v1/certification/query",
                           json={"citizen_id": "110105194912310099"}, headers=auth)
    assert missing.status_code == 404 and missing.json()["code"] == "person-not-found"
    assert central.post("/central/v1/certification/query", json={"citizen_id": cid}).status_code \
        == 401


def test_the_status_follows_the_business_date(clock, central, auth):
    cid = citizen_with(central, auth, "done")
    opens = dt.date.fromisoformat(status(central, auth, cid)["opens_on"])
    clock.now = dt.datetime.combine(opens, dt.time(2), tzinfo=dt.UTC)  # 10:00 in Beijing
    # CentralSimConfig.today is fixed in these tests: the status uses the business date.
    assert status(central, auth, cid)["status"] == "done"


# -- templates ---------------------------------------------------------------------------------
def test_binding_a_face_gives_pensioners_the_enrolment_template(central, auth, template_a):
    due = citizen_with(central, auth, "due")
    non = citizen_with(central, auth, "not-pensioner")
    assert status(central, auth, due)["template"] is None
    r = central.post("/sim/v1/faces", json={"identity": "a",
                                            "citizen_ids": [due, non, "110105194912310099"]})
    assert r.json() == {"bound": 1, "not_pensioners": 1, "unknown": 1}
    template = status(central, auth, due)["template"]
    assert len(template) == 128 and all(math.isfinite(v) for v in template)
    assert template == pytest.approx(list(template_a))
    assert status(central, auth, non)["template"] is None


def test_make_due_makes_a_done_pensioner_due_today(central, auth, template_a):
    cid = citizen_with(central, auth, "done")
    central.post("/sim/v1/faces", json={"identity": "a", "citizen_ids": [cid], "make_due": True})
    answer = status(central, auth, cid)
    assert answer["status"] == "due" and answer["due_date"] == "2026-11-22"


def test_the_template_is_the_face_in_the_photo(template_a):
    import face_recognition
    import numpy

    from simulators.camera.photos import photos

    same = face_recognition.face_encodings(
        face_recognition.load_image_file(photos("a")[1].path))[0]
    other = face_recognition.face_encodings(
        face_recognition.load_image_file(photos("b")[0].path))[0]
    enrolled = numpy.array(template_a)
    assert face_recognition.face_distance([same], enrolled)[0] < 0.6
    assert face_recognition.face_distance([other], enrolled)[0] > 0.6


# -- the roster --------------------------------------------------------------------------------
def test_the_due_roster_of_a_village_pages_through_its_due_pensioners(central, auth):
    village = central.get("/sim/v1/villages", params={"limit": 1}).json()["items"][0]
    county = village["village"][:6]
    seen: list[dict] = []
    after = None
    while True:
        body = {"village": county, "limit": 3, **({"after": after} if after else {})}
        r = central.post("/central/v1/certification/due", json=body, headers=auth)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 3
        seen += page["items"]
        after = page["next"]
        if after is None:
            break
    assert seen and all(e["status"] == "due" and e["village"].startswith(county) for e in seen)
    assert len({e["citizen_id"] for e in seen}) == len(seen)
    for entry in seen[:3]:
        assert status(central, auth, entry["citizen_id"])["status"] == "due"
        assert entry["name"]
    one = central.get("/central/v1/certification/due",
                      params={"village": village["village"], "limit": 200}, headers=auth).json()
    assert len(one["items"]) == village["due"]


def test_a_roster_query_out_of_bounds_is_refused(central, auth):
    for body in ({"village": "1101", "limit": 5}, {"village": "110105", "limit": 201},
                 {"village": "110105", "limit": 0}, {"village": "110105", "after": "x"}):
        r = central.post("/central/v1/certification/due", json=body, headers=auth)
        assert r.status_code == 422, body


# -- keys --------------------------------------------------------------------------------------
def test_a_key_that_is_not_an_ed25519_public_key_is_refused(central):
    for bad in ("AAAA", "not base64", "A" * 200):
        r = central.post(f"/sim/v1/devices/{DEVICE}/key", json={"public_key": bad})
        assert r.status_code == 422, bad


# -- the intake --------------------------------------------------------------------------------
def test_a_signed_certification_is_recorded_once_and_the_pensioner_is_then_done(
        clock, central, auth, key):
    cid = citizen_with(central, auth, "due")
    payload = record(key, cid, clock.now)
    sub_key = f"sub_{uuid.uuid4().hex}"
    first = submit(central, auth, payload, sub_key)
    assert first["outcome"] == "recorded", first
    rec = first["record"]
    assert rec["certification_no"].startswith("RZ20261122") and rec["status"] == "done"
    assert rec["next_due_date"] == "2027-11-22" and rec["cycle_months"] == 12
    again = submit(central, auth, payload, sub_key)
    assert again["outcome"] == "duplicate" and again["record"] == rec
    after = status(central, auth, cid)
    assert after["status"] == "done" and after["reason_code"] == "already-certified"
    assert after["last_certified_at"] == "2026-11-22T02:00:00Z"
    rows = central.get("/sim/v1/certifications", params={"citizen_id": cid}).json()
    assert rows["total"] == 1
    row = rows["items"][0]
    assert row["device_id"] == DEVICE and row["signature"] == payload["signature"]
    assert row["evidence_sha256"] == "0" * 64 and row["location"] == "朝阳区社保大厅"
    assert row["signed"] == payload and row["liveness_version"] == "liveness-1"
    assert signing.verify(signing.public_key_b64(key), row["signed"], row["signature"])
    # Another certification in the same cycle (another terminal's key) is refused.
    second = submit(central, auth, record(key, cid, clock.now + dt.timedelta(minutes=5)))
    assert second["outcome"] == "refused"
    assert second["refusal"]["code"] == "already-certified"
    assert central.get("/sim/v1/certifications", params={"citizen_id": cid}).json()["total"] == 1


@pytest.mark.parametrize("wanted, code", [
    ("done", "already-certified"), ("not-due", "certification-not-due"),
    ("not-pensioner", "not-pensioner"), ("deceased", "deceased"),
])
def test_a_certification_that_is_not_due_is_refused_with_its_reason(
        clock, central, auth, key, wanted, code):
    cid = citizen_with(central, auth, wanted)
    result = submit(central, auth, record(key, cid, clock.now))
    assert result["outcome"] == "refused" and result["refusal"]["code"] == code
    assert result["refusal"]["message"] == status(central, auth, cid)["explanation"]


def test_a_bad_signature_or_an_unknown_device_is_refused(clock, central, auth, key):
    cid = citizen_with(central, auth, "due")
    good = record(key, cid, clock.now)
    forged = {**good, "location": "另一个大厅"}  # changed after signing
    assert submit(central, auth, forged)["refusal"]["code"] == "bad-signature"
    other = record(Ed25519PrivateKey.generate(), cid, clock.now)
    assert submit(central, auth, other)["refusal"]["code"] == "bad-signature"
    unknown = record(key, cid, clock.now, device_id="kiosk-99")
    assert submit(central, auth, unknown)["refusal"]["code"] == "unknown-device"
    assert status(central, auth, cid)["status"] == "due"  # nothing recorded
    assert submit(central, auth, good)["outcome"] == "recorded"


def test_a_record_that_is_not_valid_data_is_refused_alone(clock, central, auth, key):
    cid = citizen_with(central, auth, "due")
    for bad in ({"result": "failed"}, {"method": "phone"}, {"certified_at": "yesterday"},
                {"certified_at": "2026-11-22T02:00:00"}, {"evidence_sha256": "xyz"},
                {"extra": 1}):
        result = submit(central, auth, {**record(key, cid, clock.now), **bad},
                        at=clock.now.isoformat())
        assert result["refusal"]["code"] == "invalid-submission", bad
    missing = record(key, cid, clock.now)
    del missing["staff_id"]
    assert submit(central, auth, missing)["refusal"]["code"] == "invalid-submission"
    future = record(key, cid, clock.now + dt.timedelta(hours=2))
    assert submit(central, auth, future, at=clock.now.isoformat())["refusal"]["code"] == \
        "invalid-submission"
    assert status(central, auth, cid)["status"] == "due"


def test_records_survive_a_restart_with_the_same_data_directory(tmp_path, clock, auth):
    from fastapi.testclient import TestClient

    from simulators.central.api import create_app
    from simulators.central.config import CentralSimConfig
    from tests.simulators.central.conftest import API_KEY, TODAY

    config = CentralSimConfig(seed=42, population=5000, api_key=API_KEY, today=TODAY,
                              data_dir=tmp_path / "central")
    private = Ed25519PrivateKey.generate()
    with TestClient(create_app(config, clock=clock), base_url="http://central") as central:
        central.post(f"/sim/v1/devices/{DEVICE}/key",
                     json={"public_key": signing.public_key_b64(private)})
        cid = citizen_with(central, auth, "due")
        payload = record(private, cid, clock.now)
        assert submit(central, auth, payload, "sub_" + "1" * 32)["outcome"] == "recorded"
    with TestClient(create_app(config, clock=clock), base_url="http://central") as central:
        assert status(central, auth, cid)["status"] == "done"
        assert submit(central, auth, payload, "sub_" + "1" * 32)["outcome"] == "duplicate"
        # The key is still registered: a new record of another pensioner is recorded.
        other = citizen_with(central, auth, "due")
        assert submit(central, auth, record(private, other, clock.now))["outcome"] == "recorded"


def test_two_terminals_certifying_offline_give_one_record_whatever_the_order(clock, central,
                                                                            auth, key):
    cid = citizen_with(central, auth, "due")
    later = record(key, cid, clock.now)
    earlier = record(key, cid, clock.now - dt.timedelta(minutes=30))
    assert submit(central, auth, later)["outcome"] == "recorded"
    refused = submit(central, auth, earlier)
    assert refused["outcome"] == "refused" and refused["refusal"]["code"] == "already-certified"
    assert central.get("/sim/v1/certifications", params={"citizen_id": cid}).json()["total"] == 1
