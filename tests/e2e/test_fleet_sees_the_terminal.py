"""The terminal's agent, provisioned like the kiosk, reports through the real Mosquitto."""

from __future__ import annotations

import pytest

from tests.harness.waiting import wait_for

pytestmark = pytest.mark.e2e


def test_manager_sees_the_terminal_online_with_its_card_reader_then_offline_by_will(stack):
    fleet, device_id = stack.fleet_client(), stack.options.device_id

    def healthy() -> dict | None:
        d = fleet.device(device_id)
        ok = (d and d["online"] and d["health"]
              and d["health"]["kiosk"]["reachable"]
              and d["health"]["peripherals"]["card_reader"]["state"] == "ok")
        return d if ok else None

    device = wait_for(healthy, "the terminal online with a working card reader", 30)
    assert device["site"] == stack.options.site
    assert device["health"]["kiosk"]["screen"] in {"attract", "home", "message", "benefits"}

    agent = stack.procs["fleet-agent"]
    agent.kill()  # SIGKILL: no clean shutdown, only the broker's Will can tell
    gone = wait_for(lambda: (d := fleet.device(device_id)) and not d["online"] and d,
                    "the Will marking it offline")
    assert gone["presence"]["last_event"] == "death"

    stack.procs["fleet-agent"] = stack.sup.restart(agent)
    back = wait_for(lambda: (d := fleet.device(device_id)) and d["online"] and d,
                    "a new birth after the restart")
    assert back["presence"]["session_seq"] > gone["presence"]["session_seq"]
