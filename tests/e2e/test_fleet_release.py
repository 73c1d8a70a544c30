"""A release as the operator ships it (docs/fleet-updates.md): `kioskctl fleet artifacts
init/build/sign/publish` a good and a bad release, `kioskctl fleet artifacts serve`, a real
fleet manager and five real agent processes with the real TUF client. A rollout of the good
release reaches every terminal; a rollout of the bad one (it never becomes healthy) aborts at
its error threshold, and each terminal that took it went back to what it ran on its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet.agent.update.slots import Slots
from fleet.updates.client import provision_root
from simulators.stack import services
from tests.fleet.agent.update.support import OperatorStore, SlotTerminal
from tests.fleet.manager.rollouts.test_stack_rollouts import _create, _get, _targets
from tests.fleet.support import FleetStack, fleet_stack
from tests.fleet.updates.support import served
from tests.harness.stack import supervised
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

IDS = [f"R-{i:02d}" for i in range(5)]
FAST = {"FLEET_MANAGER_ROLLOUT_TICK_S": "0.2"}


def _finished(fleet: FleetStack, rollout_id: str) -> dict[str, Any]:
    return wait_for(lambda: (r := _get(fleet.api, rollout_id)) and r["finished_at"] and r,
                    f"rollout {rollout_id[:8]} to finish", timeout=90, diagnostics=fleet.logs)


def _all_report(fleet: FleetStack, version: str) -> None:
    for device in IDS:
        fleet.wait_device(device, lambda d: d["online"] and d["app_version"] == version,
                          f"online on {version}")


def test_a_good_release_reaches_every_terminal_and_a_bad_one_aborts_and_rolls_back(
        tmp_path: Path, mosquitto: services.Mosquitto) -> None:
    store = OperatorStore(tmp_path / "store").init()
    good = store.ship("1.1.0")
    bad = store.ship("1.2.0", health="bad")
    terminals = {d: SlotTerminal.install(tmp_path / "terminals" / d) for d in IDS}
    try:
        with supervised(tmp_path / "logs") as sup, \
                fleet_stack(sup, tmp_path, mosquitto, **FAST) as fleet, \
                served(store.repo) as url:
            for device, t in terminals.items():
                provision_root(fleet.workdir / "agents" / device / "tuf", store.root_json)
                fleet.start_agent(device, t.kiosk.url, health_interval_s=0.5, **t.agent_env(url))
            _all_report(fleet, "1.0.0")

            first = _create(fleet.api, {"name": "kiosk 1.1.0", "target": good,
                                        "version": "1.1.0", "groups": ["1", "rest"],
                                        "seed": 3}, "ship-1.1.0")
            done = _finished(fleet, first["id"])
            assert done["state"] == "succeeded", done
            assert done["counts"] == {"succeeded": len(IDS)}
            for t in terminals.values():
                assert t.running() == "1.1.0" and Slots(t.root).current_version() == "1.1.0"
                assert t.restarts() == ["1.1.0"]
            _all_report(fleet, "1.1.0")  # the registry knows what they run: the next base

            # Two canaries; two failures in a group abort (a percentage would abort at one).
            second = _create(fleet.api, {"name": "kiosk 1.2.0", "target": bad,
                                         "version": "1.2.0", "groups": ["2", "rest"],
                                         "error_threshold_percent": 100,
                                         "error_threshold_count": 2, "seed": 3}, "ship-1.2.0")
            done = _finished(fleet, second["id"])
            assert done["state"] == "aborted", done
            assert done["reason"].startswith("error threshold: "), done
            targets = _targets(fleet.api, second["id"])
            took = {d for d, t in targets.items() if t["command_id"]}
            assert len(took) == 2, targets
            for device in took:
                assert targets[device]["state"] == "failed", targets[device]
                assert "unhealthy" in targets[device]["error"], targets[device]
                # Started 1.2.0, saw it unhealthy by the commit deadline, went back by itself.
                assert terminals[device].restarts() == ["1.1.0", "1.2.0", "1.1.0"]
            for device in set(IDS) - took:
                assert targets[device]["state"] == "skipped", targets[device]
                assert terminals[device].restarts() == ["1.1.0"]
            for t in terminals.values():
                assert t.running() == "1.1.0" and Slots(t.root).current_version() == "1.1.0"
            _all_report(fleet, "1.1.0")
    finally:
        for t in terminals.values():
            t.kiosk.close()
