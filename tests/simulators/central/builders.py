"""Bodies for the benefit-service calls, from a citizen as /sim/v1 describes it."""

import uuid
from typing import Any

FORMS = {
    "skill-upgrade": {"phone": "13800000000", "certificate_number": "1234"},
    "job-seeking": {"phone": "13800000000"},
    "startup-once": {"phone": "13800000000", "business_registration_number": "110105000123"},
    "unemployment": {"phone": "13800000000"},
}
PERIODS = {"skill-upgrade": "2026", "job-seeking": "2026", "startup-once": "once",
           "unemployment": "2026-11"}  # for the tests' business date, 2026-11-22


def key() -> str:
    return "sub_" + uuid.uuid4().hex


def application(person: dict, subsidy: str = "skill-upgrade", **changes: Any) -> dict:
    body = {
        "citizen_id": person["citizen_id"], "subsidy": subsidy, "period": PERIODS[subsidy],
        "identity": {"method": "card", "card_number": person["card"]["card_number"],
                     "card_id_code": person["card"]["card_id_code"], "name": person["name"]},
        "form": dict(FORMS[subsidy]),
    }
    body.update(changes)
    return body


def item(payload: dict, kind: str = "subsidy-application", submission_key: str | None = None,
         device_id: str = "kiosk-01", submitted_at: str = "2026-11-22T01:59:00Z") -> dict:
    return {"submission_key": submission_key or key(), "kind": kind, "device_id": device_id,
            "submitted_at": submitted_at, "payload": payload}


def pick(central, **filters) -> dict:
    page = central.get("/sim/v1/citizens", params={"limit": 1, **filters}).json()
    assert page["items"], f"no citizen with {filters}"
    return page["items"][0]


def detail(central, person: dict) -> dict:
    return central.get(f"/sim/v1/citizens/{person['index']}").json()


def submit(central, auth, *items: dict):
    r = central.post("/central/v1/submissions", json={"items": list(items)}, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["results"]
