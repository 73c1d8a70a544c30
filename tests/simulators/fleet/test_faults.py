"""Faults on request, seen where an operator would see them (health, presence), and a real
rollout from a real manager to a broker fleet that downloads every release from a real store."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import httpx

from common.clock import utc_now
from fleet.protocol import Channel, Health, decode_for_channel
from simulators.fleet.broker_fleet import BrokerFleet
from simulators.fleet.terminal import PAPER_OUT, READER_UNPLUGGED, VirtualTerminal
from simulators.fleet.updates import UpdateConfig
from simulators.stack import services
from simulators.stack.services import kioskctl
from tests.fleet.support import MqttProbe
from tests.fleet.updates.support import Store, served
from tests.harness.stack import supervised
from tests.harness.waiting import wait_for


def _peripherals(t: VirtualTerminal) -> dict[str, tuple[str, str]]:
    now = utc_now()
    t.connecting(now)
    t.connected(now)
    [health] = t.health_due(now)
    msg = decode_for_channel(Channel.HEALTH, health.payload)
    assert isinstance(msg, Health)
    return {k: (p.state.value, p.code) for k, p in msg.peripherals.items()}


def test_peripheral_faults_show_in_the_terminals_health() -> None:
    t = VirtualTerminal("SIM-00001")
    assert _peripherals(t)["printer"] == ("degraded", "paper-low")
    t.faults |= {PAPER_OUT, READER_UNPLUGGED}
    t.next_health_at = 0
    got = _peripherals(t)
    assert got["printer"] == ("degraded", "paper-out")
    assert got["card_reader"] == ("missing", "missing")
    assert t.baseline()["peripherals"] == ["camera", "printer"]  # the unplugged one not counted


def test_faults_and_flapping_links_reach_the_broker(mosquitto: services.Mosquitto,
                                                    probe: MqttProbe) -> None:
    probe.subscribe("hrss/v1/dev/+/+")
    fleet = BrokerFleet(mosquitto.host, mosquitto.port, 6, loops=2, health_interval_s=600)
    fleet.start()
    try:
        assert fleet.wait(lambda c: c["online"] == 6, 30), fleet.counters
        fleet.set_fault(["SIM-00001"], PAPER_OUT)
        fleet.set_fault(["SIM-00002"], READER_UNPLUGGED)
        [paper] = probe.wait(lambda m: m.topic == "hrss/v1/dev/SIM-00001/health"
                             and m.payload["peripherals"]["printer"]["code"] == "paper-out",
                             "a paper-out health")
        probe.wait(lambda m: m.topic == "hrss/v1/dev/SIM-00002/health"
                   and m.payload["peripherals"]["card_reader"]["state"] == "missing",
                   "an unplugged reader")
        assert paper.payload["seq"] == 2  # right after the fault, not at the next interval

        t = fleet.terminals["SIM-00003"]
        first, core = t.core.session_seq, t.core
        fleet.flap(["SIM-00003"], down_s=0.3)
        [will] = probe.wait(lambda m: m.topic == "hrss/v1/dev/SIM-00003/death", "its Will")
        assert (will.payload["reason"], will.payload["session_seq"]) == ("will", first)
        births = probe.wait(lambda m: m.topic == "hrss/v1/dev/SIM-00003/birth",
                            "a birth after the link came back", count=2)
        assert births[1].payload["session_seq"] > births[0].payload["session_seq"]
        assert t.core is core and t.generation == 0  # the same agent process, a new session
    finally:
        fleet.stop()


def test_the_cli_applies_faults_by_pick(mosquitto: services.Mosquitto, probe: MqttProbe) -> None:
    probe.subscribe("hrss/v1/dev/+/+")
    done = subprocess.run(
        kioskctl("sim", "fleet", "run", "--broker-url", mosquitto.url, "--terminals", "20",
                 "--loops", "2", "--health-interval", "600", "--duration", "4",
                 "--misbehave-after", "0.5", "--paper-out", "25%",
                 "--reader-unplugged", "SIM-00004,SIM-00009", "--flap", "2", "--flaps", "2",
                 "--flap-every", "1", "--flap-down", "0.2"),
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["misbehaviours"]["paper_out"], summary["misbehaviours"]["flapping"]) == (5, 2)
    healths = probe.matching(lambda m: m.topic.endswith("/health"))
    assert len({h.payload["device_id"] for h in healths
                if h.payload["peripherals"]["printer"]["code"] == "paper-out"}) == 5
    assert {h.payload["device_id"] for h in healths
            if h.payload["peripherals"]["card_reader"]["state"] == "missing"} == {
        "SIM-00004", "SIM-00009"}
    wills = Counter(m.payload["device_id"] for m in probe.matching(
        lambda m: m.topic.endswith("/death") and m.payload["reason"] == "will"))
    assert sorted(wills.values()) == [2, 2]  # two flapping links, each dropped twice

    bad = subprocess.run(kioskctl("sim", "fleet", "run", "--terminals", "3", "--flap", "SIM-9"),
                         capture_output=True, text=True, timeout=30, check=False)
    assert bad.returncode == 2 and "no such terminal" in bad.stderr


def test_a_broker_fleet_takes_a_real_rollout_with_real_downloads(
    tmp_path: Path, mosquitto: services.Mosquitto
) -> None:
    store = Store.create(tmp_path / "store")
    store.release("1.4.0", os.urandom(200_000))
    n = 50
    with supervised(tmp_path / "logs") as sup, served(store.repo.directory) as url:
        manager = services.fleet_manager(tmp_path / "manager", broker_url=mosquitto.url)
        manager.spec.env["FLEET_MANAGER_ROLLOUT_TICK_S"] = "0.2"
        proc = sup.start(manager.spec)
        api = manager.url + "/api/v1"
        config = UpdateConfig(repository_url=url, work_dir=tmp_path / "sim", workers=8,
                              root_json=(store.repo.metadata_dir / "1.root.json").read_bytes())
        fleet = BrokerFleet(mosquitto.host, mosquitto.port, n, loops=2, health_interval_s=600,
                            app_version="1.3.0", updates=config)
        crashing = ["SIM-00003", "SIM-00020", "SIM-00041"]
        for d in crashing:
            fleet.terminals[d].crash_at = "install"
        fleet.start()
        try:
            assert fleet.wait(lambda c: c["online"] == n, 30), fleet.counters

            def born() -> bool:
                items = httpx.get(f"{api}/devices", params={"limit": 1000}, timeout=5).json()
                return sum(1 for d in items["items"] if d["app_version"] == "1.3.0") == n

            wait_for(born, "every terminal born at the manager")
            body = {"name": "sim 1.4.0", "target": "kiosk/hrss-kiosk-1.4.0.tar.gz",
                    "version": "1.4.0", "groups": ["5", "30%", "rest"], "seed": 3}
            r = httpx.post(f"{api}/rollouts", json=body, headers={"Idempotency-Key": "sim-1"},
                           timeout=10)
            assert r.status_code == 201, r.text
            rollout_id = r.json()["id"]
            done = wait_for(
                lambda: (s := httpx.get(f"{api}/rollouts/{rollout_id}", timeout=5).json())
                ["finished_at"] and s, "the rollout to finish", timeout=90,
                diagnostics=lambda: proc.log_tail(30))
            assert done["state"] == "succeeded", done
            assert {t.app_version for t in fleet.terminals.values()} == {"1.4.0"}
            c = fleet.counters
            assert c["downloads"] == n and c["download_bytes"] >= n * 200_000
            assert c["crashes"] == 3 and c["jobs_committed"] == n
            # The crashed ones came back with a new session and finished the same job.
            assert all(fleet.terminals[d].generation == 1 for d in crashing)
        finally:
            fleet.stop()
