"""Health through real processes, peripherals coming from a fake kiosk status endpoint."""

from __future__ import annotations

from common.version import __version__
from tests.fleet.support import FakeKiosk, FleetStack, kiosk_status


def _card_reader(d: dict) -> dict | None:
    health = d.get("health") or {}
    return health.get("peripherals", {}).get("card_reader")


def test_peripheral_state_follows_the_kiosk_and_its_absence(
    stack: FleetStack, fake_kiosk: FakeKiosk
) -> None:
    stack.start_agent("T-0201", fake_kiosk.url)
    stack.wait_device("T-0201", lambda d: (_card_reader(d) or {}).get("state") == "ok", "ok")

    fake_kiosk.status = kiosk_status("degraded", "reader-error", "slow reads")
    d = stack.wait_device(
        "T-0201", lambda d: (_card_reader(d) or {}).get("state") == "degraded", "degraded"
    )
    assert _card_reader(d) == {"state": "degraded", "code": "reader-error",
                               "reason": "slow reads"}

    fake_kiosk.stop()
    d = stack.wait_device(
        "T-0201", lambda d: not d["health"]["kiosk"]["reachable"], "kiosk unreachable"
    )
    assert d["online"]  # the terminal is up; only its kiosk app does not answer
    assert d["health"]["kiosk"] == {"reachable": False, "screen": None, "session_active": None,
                                    "app_version": None}
    reader = _card_reader(d)
    assert reader is not None
    assert (reader["state"], reader["code"]) == ("missing", "kiosk-unreachable")

    fake_kiosk.start()  # same port
    stack.wait_device("T-0201", lambda d: d["health"]["kiosk"]["reachable"], "kiosk back")


def test_kiosk_down_from_the_start_reports_expected_peripherals(
    stack: FleetStack, fake_kiosk: FakeKiosk
) -> None:
    url = fake_kiosk.url
    fake_kiosk.stop()
    stack.start_agent("T-0202", url, AGENT_PERIPHERALS='["card_reader", "printer"]')

    d = stack.wait_device("T-0202", lambda d: d["online"] and d["health"], "online")

    assert d["health"]["kiosk"]["reachable"] is False
    assert set(d["health"]["peripherals"]) == {"card_reader", "printer"}
    assert {p["code"] for p in d["health"]["peripherals"].values()} == {"kiosk-unreachable"}
    assert d["app_version"] == __version__  # nothing better known without the kiosk
