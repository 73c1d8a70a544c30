"""`POST /central/v1/submissions` (1.3): in order, exactly once per key, one bad item alone;
loss reports and reversals with the service PIN; the submission faults of 1.6."""

import datetime as dt

import httpx
import pytest

from tests.simulators.central.builders import application, detail, item, key, pick, submit

SUBMISSIONS = "/central/v1/submissions"


@pytest.fixture
def applicant(central) -> dict:
    return pick(central, eligible_for="skill-upgrade", card_status="normal")


def test_recorded_then_duplicate_with_the_same_record_then_conflict(central, auth, applicant):
    first = item(application(applicant))
    [recorded] = submit(central, auth, first)
    assert recorded["outcome"] == "recorded" and recorded["refusal"] is None
    record = recorded["record"]
    assert record["status"] == "submitted" and record["subsidy"] == "skill-upgrade"
    assert record["application_no"].startswith("SQ20261122") and len(record["application_no"]) == 18
    # A resend stamped again (submitted_at differs) is the same submission.
    again = {**first, "submitted_at": "2026-11-22T01:59:30Z"}
    [replay] = submit(central, auth, again)
    assert (replay["outcome"], replay["record"]) == ("duplicate", record)
    other = {**first, "device_id": "kiosk-02"}
    [conflict] = submit(central, auth, other)
    assert conflict["outcome"] == "conflict" and conflict["record"] is None
    assert conflict["refusal"]["code"] == "submission-key-conflict"
    page = central.get("/sim/v1/submissions").json()
    assert page["total"] == 1 and page["items"][0]["submission_key"] == first["submission_key"]
    assert central.get("/sim/v1/ingest").json() == {
        "received": 3, "recorded": 1, "duplicates": 1, "refused": 0, "conflicts": 1}


def test_one_bad_item_is_refused_alone_in_order(central, auth, applicant):
    good = item(application(applicant))
    lost = pick(central, card_status="normal", receiving_pension=True)
    report = item({"citizen_id": lost["citizen_id"],
                   "pin": detail(central, lost)["service_pin"]}, kind="card-loss-report")
    bad = [
        "not an object",
        {**item(application(applicant)), "kind": "pension-certification"},
        {**item(application(applicant)), "submitted_at": "2030-01-01T00:00:00Z"},
        {**item(application(applicant)), "submitted_at": "2026-11-22T01:59:00"},  # no zone
        item({**application(applicant), "form": {"phone": "1"}}),
        {**item(application(applicant)), "submission_key": "sub_!"},
        item({"citizen_id": lost["citizen_id"], "pin": "12345"}, kind="card-loss-report"),
    ]
    results = submit(central, auth, bad[0], good, *bad[1:], report)
    assert len(results) == len(bad) + 2
    assert results[1]["submission_key"] == good["submission_key"]
    assert results[1]["outcome"] == "recorded"
    assert results[-1]["submission_key"] == report["submission_key"]
    assert results[-1]["outcome"] == "recorded"
    for result in [results[0], *results[2:-1]]:
        assert result["outcome"] == "refused"
        assert result["refusal"]["code"] == "invalid-submission"
        assert len(result["refusal"]["message"]) <= 200
    assert results[2]["submission_key"] == bad[1]["submission_key"]
    assert central.get("/sim/v1/submissions").json()["total"] == 2, "invalid ones not stored"


def test_risk_refusal_is_final_and_replayed(central, auth):
    dead = pick(central, deceased=True)
    first = item(application(dead))
    [refused] = submit(central, auth, first)
    assert refused["outcome"] == "refused"
    assert refused["refusal"]["code"] == "risk-refused"
    assert "deceased" in [f["code"] for f in refused["refusal"]["findings"]]
    [again] = submit(central, auth, first)
    assert again == refused
    stored = central.get("/sim/v1/submissions", params={"outcome": "refused"}).json()
    assert stored["total"] == 1 and stored["items"][0]["refusal"]["code"] == "risk-refused"


def test_a_second_application_for_the_same_claim_is_a_duplicate_claim(central, auth, applicant):
    one, two = item(application(applicant)), item(application(applicant), device_id="kiosk-02")
    first, second = submit(central, auth, one, two)
    assert first["outcome"] == "recorded"
    assert second["outcome"] == "refused"
    assert [f["code"] for f in second["refusal"]["findings"]] == ["duplicate-claim"]


def test_batch_bounds(central, auth, applicant):
    many = [item(application(applicant)) for _ in range(101)]
    r = central.post(SUBMISSIONS, json={"items": many}, headers=auth)
    assert r.status_code == 422
    assert central.post(SUBMISSIONS, json={"items": []}, headers=auth).status_code == 422
    huge = {"items": [item({**application(applicant), "pad": "x" * (3 * 1024 * 1024)})]}
    r = central.post(SUBMISSIONS, json=huge, headers=auth)
    assert (r.status_code, r.json()["code"]) == (413, "payload-too-large")
    r = central.post(SUBMISSIONS, content=b"{not json", headers={
        **auth, "content-type": "application/json"})
    assert r.status_code == 422
    assert central.post(SUBMISSIONS, json={"items": [item(application(applicant))]},
                        headers={"Authorization": "Bearer nope"}).status_code == 401
    assert central.get("/sim/v1/ingest").json()["received"] == 0


# -- card loss report and reversal ------------------------------------------------------------
def person_query(central, auth, person) -> dict:
    return central.post("/central/v1/persons/query", json={"citizen_id": person["citizen_id"]},
                        headers=auth).json()["person"]


def test_loss_report_with_the_pin_then_reversal_with_the_card(central, auth, clock):
    person = pick(central, card_status="normal", receiving_pension=True)
    pin = detail(central, person)["service_pin"]
    [reported] = submit(central, auth, item({"citizen_id": person["citizen_id"], "pin": pin},
                                            kind="card-loss-report"))
    assert reported["outcome"] == "recorded"
    assert reported["record"]["card_status"] == "reported-lost"
    assert reported["record"]["reported_at"] == "2026-11-22T02:00:00Z"
    masked = reported["record"]["card_number_masked"]
    assert "*" in masked and person["card"]["card_number"] not in masked
    assert person_query(central, auth, person)["cards"][-1]["status"] == "reported-lost"

    clock.advance(3600)
    card = person["card"]
    reversal = {"citizen_id": person["citizen_id"], "card_number": card["card_number"],
                "card_id_code": card["card_id_code"], "pin": pin}
    wrong_card = {**reversal, "card_id_code": "0" * 32}
    results = submit(central, auth, item(wrong_card, kind="card-loss-reversal"),
                     item(reversal, kind="card-loss-reversal"),
                     item(reversal, kind="card-loss-reversal"))
    assert results[0]["refusal"]["code"] == "identity-mismatch"
    assert results[1]["outcome"] == "recorded"
    assert results[1]["record"]["card_status"] == "normal"
    assert results[1]["record"]["reversed_at"] == "2026-11-22T03:00:00Z"
    assert results[2]["refusal"]["code"] == "card-not-lost"
    assert person_query(central, auth, person)["cards"][-1]["status"] == "normal"


def test_wrong_pins_lock_for_a_day(central, auth, clock):
    person = pick(central, card_status="normal")
    pin = detail(central, person)["service_pin"]
    wrong = f"{(int(pin) + 1) % 10**6:06d}"
    report = lambda p: item({"citizen_id": person["citizen_id"], "pin": p},  # noqa: E731
                            kind="card-loss-report")
    codes = [r["refusal"]["code"] for r in submit(central, auth, *[report(wrong)
                                                                  for _ in range(5)])]
    assert codes == ["pin-wrong"] * 4 + ["pin-locked"]
    [locked] = submit(central, auth, report(pin))
    assert locked["refusal"]["code"] == "pin-locked", "even the right PIN while locked"
    clock.advance(24 * 3600)
    [ok] = submit(central, auth, report(pin))
    assert ok["outcome"] == "recorded"


def test_loss_report_refusals(central, auth):
    cancelled = pick(central, card_status="cancelled")
    pin = detail(central, cancelled)["service_pin"]
    [r] = submit(central, auth, item({"citizen_id": cancelled["citizen_id"], "pin": pin},
                                     kind="card-loss-report"))
    assert r["refusal"]["code"] == "no-active-card"
    [r] = submit(central, auth, item({"citizen_id": "11010519000101001X", "pin": "123456"},
                                     kind="card-loss-report"))
    assert r["refusal"]["code"] == "person-not-found"


# -- faults ----------------------------------------------------------------------------------
def faults(central, **values) -> None:
    assert central.put("/sim/v1/faults", json=values).status_code == 200, values


def test_refuse_rate_refuses_and_remembers(central, auth, applicant):
    faults(central, refuse_rate=1.0)
    first = item(application(applicant))
    [r] = submit(central, auth, first)
    assert (r["outcome"], r["refusal"]["code"]) == ("refused", "simulated-refusal")
    faults(central)
    [again] = submit(central, auth, first)
    assert again == r, "a replay gets the first answer"


def test_lost_response_is_committed(central, auth, applicant):
    faults(central, lose_response_rate=1.0)
    first = item(application(applicant))
    r = central.post(SUBMISSIONS, json={"items": [first]}, headers=auth)
    with pytest.raises(ValueError):
        r.json()  # cut in the middle
    faults(central)
    [replay] = submit(central, auth, first)
    assert replay["outcome"] == "duplicate"
    assert central.get("/sim/v1/ingest").json()["recorded"] == 1


def test_duplicated_response_carries_the_previous_batch(central, auth, applicant):
    one = item(application(applicant))
    submit(central, auth, one)
    faults(central, duplicate_response_rate=1.0)
    two = item(application(pick(central, eligible_for="unemployment", card_status="normal"),
                           "unemployment"))
    [answer] = submit(central, auth, two)
    assert answer["submission_key"] == one["submission_key"], "the wrong key"
    faults(central)
    [replay] = submit(central, auth, two)
    assert replay["outcome"] == "duplicate", "the batch was processed all the same"


def test_outage_windows_on_the_simulators_clock(central, auth, clock, applicant):
    start = clock.now + dt.timedelta(minutes=10)
    faults(central, outage_windows=[{"start": start.isoformat(),
                                     "end": (start + dt.timedelta(minutes=30)).isoformat()}])
    assert len(submit(central, auth, item(application(applicant)))) == 1
    clock.advance(15 * 60)
    r = central.post(SUBMISSIONS, json={"items": [item(application(applicant))]}, headers=auth)
    assert (r.status_code, r.json()["code"]) == (503, "maintenance")
    assert r.headers["retry-after"] == str(25 * 60)
    clock.advance(25 * 60)
    assert central.post(SUBMISSIONS, json={"items": [item(application(applicant))]},
                        headers=auth).status_code == 200
    bad = central.put("/sim/v1/faults", json={"outage_windows": [
        {"start": start.isoformat(), "end": start.isoformat()}]})
    assert bad.status_code == 422


def test_slow_body_trickles_over_the_given_time(central, auth, applicant):
    faults(central, slow_body_ms=300)
    chunks = []
    with central.stream("POST", SUBMISSIONS, json={"items": [item(application(applicant))]},
                        headers=auth) as r:
        assert int(r.headers["content-length"]) > 0
        chunks = list(r.iter_raw())
    assert len(chunks) > 1
    assert httpx.Response(200, content=b"".join(chunks)).json()["results"][0]["outcome"] == (
        "recorded")


def test_submissions_list_pages_by_arrival(central, auth, applicant):
    keys = [key() for _ in range(3)]
    people = [applicant, pick(central, eligible_for="unemployment", card_status="normal")]
    submit(central, auth, item(application(people[0]), submission_key=keys[0]),
           item(application(people[1], "unemployment"), submission_key=keys[1]))
    page = central.get("/sim/v1/submissions", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and [i["submission_key"] for i in page["items"]] == [keys[1]]
    assert page["items"][0]["citizen_index"] == people[1]["index"]
    kinds = central.get("/sim/v1/submissions", params={"kind": "card-loss-report"}).json()
    assert kinds["total"] == 0
