"""Applications and their history over simulated time (1.4), the tester's advance, and the
card blacklist feed (1.5)."""

import pytest

from tests.simulators.central.builders import application, detail, item, pick, submit

QUERY = "/central/v1/applications/query"
FEED = "/central/v1/card-blacklist/query"
DAY = 24 * 3600


def applications(central, auth, person) -> list[dict]:
    r = central.post(QUERY, json={"citizen_id": person["citizen_id"]}, headers=auth)
    assert r.status_code == 200
    return r.json()["items"]


def test_a_new_application_moves_through_its_states_with_the_clock(central, auth, clock):
    person = pick(central, eligible_for="skill-upgrade", card_status="normal")
    [r] = submit(central, auth, item(application(person)))
    number = r["record"]["application_no"]

    def current() -> dict:
        return next(a for a in applications(central, auth, person)
                    if a["application_no"] == number)

    assert applications(central, auth, person)[0]["application_no"] == number, "newest first"
    seen = [current()["status"]]
    for _ in range(9):
        clock.advance(DAY)
        seen.append(current()["status"])
    assert seen[:4] == ["submitted", "township-review", "township-review", "department-review"]
    assert seen[5] in {"approved", "rejected"}
    final = current()
    assert [h["status"] for h in final["history"]][:3] == [
        "submitted", "township-review", "department-review"]
    if final["status"] != "rejected":
        assert final["status"] in {"disbursed", "bank-returned", "bank-failed"}
        assert final["bank"] and final["account_masked"].count("*") == 4
        assert final["amount"] == "1500.00"
    ats = [h["at"] for h in final["history"]]
    assert ats == sorted(ats)


def test_seeded_history_gives_every_screen_something(central, auth):
    person = pick(central)
    items = applications(central, auth, person)
    assert 1 <= len(items) <= 50
    for a in items:
        assert a["status"] == a["history"][-1]["status"]
        assert 1 <= len(a["history"]) <= 16
        assert a["subsidy_name"]
    submitted = [a["history"][0]["at"] for a in items]
    assert submitted == sorted(submitted, reverse=True)
    statuses = set()
    for c in central.get("/sim/v1/citizens", params={"limit": 300}).json()["items"]:
        statuses |= {a["status"] for a in applications(central, auth, c)}
    assert {"disbursed", "rejected"} <= statuses
    assert statuses & {"bank-returned", "bank-failed"}


def test_advance_overrides_the_automatic_steps(central, auth, clock):
    person = pick(central, eligible_for="skill-upgrade", card_status="normal")
    [r] = submit(central, auth, item(application(person)))
    number = r["record"]["application_no"]
    r = central.post(f"/sim/v1/applications/{number}/advance",
                     json={"to": "rejected", "reason": "材料不全"})
    assert r.status_code == 200
    assert r.json()["status"] == "rejected"
    assert r.json()["history"][-1] == {"status": "rejected", "at": "2026-11-22T02:00:00Z",
                                       "reason": "材料不全"}
    clock.advance(10 * DAY)
    item_now = next(a for a in applications(central, auth, person)
                    if a["application_no"] == number)
    assert item_now["status"] == "rejected", "no automatic step after an override"
    # A rejected claim no longer counts as a duplicate.
    [again] = submit(central, auth, item(application(person)))
    assert again["outcome"] == "recorded"
    seeded = applications(central, auth, pick(central))[0]["application_no"]
    r = central.post(f"/sim/v1/applications/{seeded}/advance", json={"to": "bank-returned"})
    assert r.status_code == 200 and r.json()["status"] == "bank-returned"
    assert central.post("/sim/v1/applications/SQ2026112299999999/advance",
                        json={"to": "approved"}).status_code == 404
    assert central.post(f"/sim/v1/applications/{seeded}/advance",
                        json={"to": "paid"}).status_code == 422


# -- blacklist feed --------------------------------------------------------------------------
def pull(central, auth, since, limit=5000) -> dict:
    r = central.post(FEED, json={"since": since, "limit": limit}, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def pull_all(central, auth, since=None, limit=5000) -> tuple[list[dict], str]:
    items = []
    while True:
        page = pull(central, auth, since, limit)
        items += page["items"]
        since = page["next"]
        assert len(since) <= 64
        if not page["more"]:
            return items, since


def test_first_pull_is_everything_blocked_in_pages(central, auth):
    everything, _ = pull_all(central, auth)
    statuses = {i["status"] for i in everything}
    assert statuses == {"reported-lost", "cancelled", "blacklisted"}
    assert 0.015 * 5000 < len(everything) < 0.05 * 5000
    paged, _ = pull_all(central, auth, limit=7)
    assert paged == everything
    lost = pick(central, card_status="reported-lost")
    assert lost["card"]["card_number"] in {i["card_number"] for i in everything}


def test_changes_after_the_cursor_include_unblocking(central, auth, clock):
    _, cursor = pull_all(central, auth)
    assert pull(central, auth, cursor)["items"] == []
    person = pick(central, card_status="normal", receiving_pension=True)
    pin = detail(central, person)["service_pin"]
    submit(central, auth, item({"citizen_id": person["citizen_id"], "pin": pin},
                               kind="card-loss-report"))
    clock.advance(60)
    card = person["card"]
    submit(central, auth, item({"citizen_id": person["citizen_id"],
                                "card_number": card["card_number"],
                                "card_id_code": card["card_id_code"], "pin": pin},
                               kind="card-loss-reversal"))
    central.post("/sim/v1/cards/status", json={"citizen_id": person["citizen_id"],
                                                "status": "blacklisted"})
    changes, cursor = pull_all(central, auth, cursor)
    assert [(c["card_number"], c["status"]) for c in changes] == [
        (card["card_number"], "reported-lost"), (card["card_number"], "normal"),
        (card["card_number"], "blacklisted")]
    assert changes[1]["changed_at"] == "2026-11-22T02:01:00Z"
    assert pull(central, auth, cursor)["items"] == []
    first, _ = pull_all(central, auth)
    assert card["card_number"] in {i["card_number"] for i in first}


@pytest.mark.parametrize("since", ["x1", "b", "c", "c-1", "b1", "c99", "b99999.0", "c1.2"])
def test_a_cursor_not_of_this_feed_is_422(central, auth, since):
    r = central.post(FEED, json={"since": since, "limit": 10}, headers=auth)
    assert (r.status_code, r.json()["code"]) == (422, "invalid-cursor")
    r = central.post(FEED, json={"since": None, "limit": 5001}, headers=auth)
    assert r.status_code == 422
