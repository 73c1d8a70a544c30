"""Two manager processes on one PostgreSQL registry and one Mosquitto (MQTT 5 shared
subscriptions split the terminals' messages between them): one rollout, ticked by both, sends
each terminal its update exactly once; when one manager is killed -9 mid-rollout, the other
goes on stepping it alone, and once the dead one is back (its share of the terminals' answers
kept in its broker session meanwhile) the rollout ends with nobody updated twice.

The rollout's row lock (`FOR UPDATE SKIP LOCKED`) and the per-(terminal, rollout, attempt)
idempotency key are what this holds to account: without them, two tickers stepping one rollout
would each pick the next terminals, and a terminal would get two `update` commands."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.stack import services
from simulators.stack.ports import free_port
from simulators.stack.supervisor import ManagedProcess, Supervisor
from tests.fleet.manager.rollouts.terminals import FakeTerminals
from tests.fleet.manager.rollouts.test_stack_rollouts import _create, _get, _spec, _wait_known
from tests.harness.stack import supervised
from tests.harness.waiting import wait_for

FAST = {"FLEET_MANAGER_ROLLOUT_TICK_S": "0.1"}


def _manager(sup: Supervisor, workdir: Path, broker: services.Mosquitto,
             database_url: str) -> tuple[services.HttpService, ManagedProcess]:
    m = services.fleet_manager(workdir, broker_url=broker.url, port=free_port())
    m.spec.env.update({**FAST, "FLEET_MANAGER_DATABASE_URL": database_url})
    return m, sup.start(m.spec)


@pytest.fixture
def two_managers(tmp_path: Path, mosquitto: services.Mosquitto, postgres_db: str
                 ) -> Iterator[tuple[Supervisor, list[tuple[services.HttpService,
                                                             ManagedProcess]]]]:
    with supervised(tmp_path / "logs") as sup:
        first = _manager(sup, tmp_path / "m1", mosquitto, postgres_db)  # migrates the schema
        second = _manager(sup, tmp_path / "m2", mosquitto, postgres_db)
        yield sup, [first, second]


def _updates_per_device(fleet: FakeTerminals) -> Counter[str]:
    updates = {r.command_id: r for r in fleet.of("update")}.values()
    return Counter(r.device_id for r in updates)


def test_two_managers_tick_one_rollout_and_update_each_terminal_once(
    two_managers: tuple[Supervisor, list[Any]], mosquitto: services.Mosquitto
) -> None:
    _sup, managers = two_managers
    apis = [m.url + "/api/v1" for m, _ in managers]
    ids = [f"S-{i:02d}" for i in range(24)]
    fleet = FakeTerminals(mosquitto.url, ids, client_id="several-managers-terminals")
    try:
        fleet.announce()
        _wait_known(apis[1], ids)  # the registry is one: either manager sees every birth
        rollout = _create(apis[0], _spec(groups=["4", "50%", "rest"], rate_per_minute=1200),
                          "several-1")
        # Both see the same rollout, and both tick it until it ends.
        assert _get(apis[1], rollout["id"])["total"] == len(ids)  # type: ignore[index]
        done = wait_for(lambda: (r := _get(apis[1], rollout["id"])) and r["finished_at"] and r,
                        "the rollout to finish", timeout=60,
                        diagnostics=lambda: "\n".join(p.log_tail(20) for _, p in managers))
        assert done["state"] == "succeeded", done
        assert done["counts"] == {"succeeded": len(ids)}
        assert _updates_per_device(fleet) == Counter(dict.fromkeys(ids, 1))
        assert all(fleet.version[d] == "1.4.0" for d in ids)
    finally:
        fleet.close()


def test_a_manager_killed_mid_rollout_while_another_goes_on_updates_nobody_twice(
    two_managers: tuple[Supervisor, list[Any]], mosquitto: services.Mosquitto,
    tmp_path: Path, postgres_db: str
) -> None:
    sup, managers = two_managers
    (victim, victim_proc), (survivor, survivor_proc) = managers
    api = survivor.url + "/api/v1"
    ids = [f"V-{i:02d}" for i in range(30)]
    fleet = FakeTerminals(mosquitto.url, ids, client_id="killed-manager-terminals")
    try:
        fleet.announce()
        _wait_known(api, ids)
        # Ten a second: the kill lands with terminals left to update.
        rollout = _create(victim.url + "/api/v1",
                          _spec(groups=["5", "10", "rest"], rate_per_minute=600), "several-2")
        fleet.wait("update", 6)
        victim_proc.kill()
        sup.processes.remove(victim_proc)
        at_kill = len(_updates_per_device(fleet))
        assert at_kill < len(ids), "the kill came too late"
        # The survivor goes on stepping the rollout alone (the first group's answers that
        # reached it are enough to send the next terminals).
        fleet.wait("update", at_kill + 3)

        # The dead manager's share of the terminals' answers waits in its session at the
        # broker (MQTT 5 lets a broker hold them for the session); systemd brings it back
        # under its own name, and it takes them.
        again = services.fleet_manager(tmp_path / "m1", broker_url=mosquitto.url,
                                       port=victim.port)
        again.spec.env.update({**FAST, "FLEET_MANAGER_DATABASE_URL": postgres_db})
        sup.start(again.spec)
        done = wait_for(lambda: (r := _get(api, rollout["id"])) and r["finished_at"] and r,
                        "the rollout to finish", timeout=90,
                        diagnostics=lambda: survivor_proc.log_tail(30))
        assert done["state"] == "succeeded", done
        assert _updates_per_device(fleet) == Counter(dict.fromkeys(ids, 1))
        r = httpx.get(f"{api}/rollouts/{rollout['id']}/targets", params={"limit": 1000},
                      timeout=5)
        assert {t["state"] for t in r.json()} == {"succeeded"}
    finally:
        fleet.close()
