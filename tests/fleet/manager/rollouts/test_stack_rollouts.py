"""Rollouts through a real Mosquitto and a real manager process (`kioskctl fleet manager`), with
simulated terminals answering over MQTT: a bad release aborts itself at the error threshold and
the terminals that took it get `rollback`; kill -9 of the manager mid-rollout loses nothing and
updates nobody twice; a command whose TTL passed while its terminal was offline never arrives."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho

from common.clock import utc_now
from fleet.manager.rollouts.spec import order_key
from fleet.protocol import Channel, Command, decode_for_channel, device_topic
from simulators.stack import services
from simulators.stack.ports import free_port
from tests.fleet.manager.rollouts.terminals import FakeTerminals
from tests.fleet.support import FleetStack, online_messages
from tests.harness.stack import supervised
from tests.harness.waiting import wait_for

FAST = {"FLEET_MANAGER_ROLLOUT_TICK_S": "0.2"}


def _spec(**kw: Any) -> dict[str, Any]:
    return {"name": "kiosk 1.4.0", "target": "kiosk/hrss-kiosk-1.4.0.tar.gz",
            "version": "1.4.0", "seed": 7, **kw}


def _create(api: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    r = httpx.post(f"{api}/rollouts", json=body, headers={"Idempotency-Key": key}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def _get(api: str, rollout_id: str) -> dict[str, Any] | None:
    try:
        r = httpx.get(f"{api}/rollouts/{rollout_id}", timeout=5)
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None


def _targets(api: str, rollout_id: str) -> dict[str, dict[str, Any]]:
    r = httpx.get(f"{api}/rollouts/{rollout_id}/targets", params={"limit": 1000}, timeout=5)
    r.raise_for_status()
    return {t["device_id"]: t for t in r.json()}


def _wait_known(api: str, ids: list[str]) -> None:
    def born() -> bool:
        r = httpx.get(f"{api}/devices", params={"limit": 1000}, timeout=5).json()
        return len({d["id"] for d in r["items"] if d["app_version"]} & set(ids)) == len(ids)

    wait_for(born, f"{len(ids)} terminals born at the manager")


def _manager(sup: Any, workdir: Path, broker: services.Mosquitto, port: int) -> Any:
    m = services.fleet_manager(workdir, broker_url=broker.url, port=port)
    m.spec.env.update(FAST)
    return m, sup.start(m.spec)


def test_a_bad_release_aborts_at_the_error_threshold_and_the_takers_roll_back(
    tmp_path: Path, mosquitto: services.Mosquitto
) -> None:
    ids = [f"T-{i:02d}" for i in range(8)]
    ordered = sorted(ids, key=lambda d: order_key(7, d))  # the rollout's own (seeded) order
    canaries, rest = ordered[:2], ordered[2:]
    bad = set(rest[:3])  # healthy on the canaries' hardware, not on three of the others
    with supervised(tmp_path / "logs") as sup:
        manager, proc = _manager(sup, tmp_path / "manager", mosquitto, free_port())
        api = manager.url + "/api/v1"
        fleet = FakeTerminals(mosquitto.url, ids, bad=bad)
        try:
            fleet.announce()
            _wait_known(api, ids)
            rollout = _create(api, _spec(groups=["2", "rest"], error_threshold_count=2), "bad-1")
            assert (rollout["total"], rollout["groups"]) == (8, 2)
            done = wait_for(lambda: (r := _get(api, rollout["id"])) and r["finished_at"] and r,
                            "the rollout to abort and settle", timeout=60,
                            diagnostics=lambda: proc.log_tail(30))
            assert done["state"] == "aborted"
            assert done["reason"].startswith("error threshold: ")
            targets = _targets(api, rollout["id"])
            took = {d for d in ids if d not in bad and fleet.of("update", d)}
            assert set(canaries) <= took
            # Every terminal that took the release got `rollback` to the version it ran, once.
            rollbacks = fleet.of("rollback")
            assert {r.device_id for r in rollbacks} == took
            assert all(r.args == {"rollout_id": rollout["id"], "to_version": "1.3.0"}
                       for r in rollbacks)
            assert len({r.command_id for r in rollbacks}) == len(took)
            assert {d for d in took if targets[d]["state"] == "rolled-back"} == took
            assert all(fleet.version[d] == "1.3.0" for d in ids)
            # Failures stopped the rollout: at least the threshold, never all of the bad ones
            # hidden, and nobody got the update twice.
            failed = {d for d, t in targets.items() if t["state"] == "failed"}
            assert len(failed) >= 2 and failed <= bad
            per_device = Counter(r.device_id for r in
                                 {r.command_id: r for r in fleet.of("update")}.values())
            assert max(per_device.values()) == 1
        finally:
            fleet.close()


def test_kill_9_of_the_manager_mid_rollout_continues_and_updates_nobody_twice(
    tmp_path: Path, mosquitto: services.Mosquitto
) -> None:
    ids = [f"K-{i:02d}" for i in range(30)]
    port = free_port()
    workdir = tmp_path / "manager"
    with supervised(tmp_path / "logs") as sup:
        first, proc = _manager(sup, workdir, mosquitto, port)
        api = first.url + "/api/v1"
        fleet = FakeTerminals(mosquitto.url, ids)
        try:
            fleet.announce()
            _wait_known(api, ids)
            # Ten a second: the kill surely lands with terminals left to update.
            rollout = _create(api, _spec(groups=["5", "10", "rest"], rate_per_minute=600,
                                         jitter_s=0.05), "kill-1")
            fleet.wait("update", 8)
            proc.kill()
            sup.processes.remove(proc)
            before = len({r.command_id for r in fleet.of("update")})
            assert before < len(ids), "the kill came too late to prove anything"

            _again, restarted = _manager(sup, workdir, mosquitto, port)
            done = wait_for(lambda: (r := _get(api, rollout["id"])) and r["finished_at"] and r,
                            "the rollout to finish after the restart", timeout=90,
                            diagnostics=lambda: restarted.log_tail(30))
            assert done["state"] == "succeeded"
            assert done["counts"] == {"succeeded": len(ids)}
            updates = {r.command_id: r for r in fleet.of("update")}.values()
            per_device = Counter(r.device_id for r in updates)
            assert per_device == Counter(dict.fromkeys(ids, 1))  # each exactly once
            assert all(fleet.version[d] == "1.4.0" for d in ids)
        finally:
            fleet.close()


class LoneTerminal:
    """One terminal on its own connection with a persistent session, so that it can really be
    offline (the broker holds what is sent to it, with the message's expiry)."""

    def __init__(self, broker_url: str, device_id: str) -> None:
        self.device_id = device_id
        self.host, port = broker_url.removeprefix("mqtt://").split(":")
        self.port = int(port)
        self.commands: list[Command] = []
        self._cond = threading.Condition()
        self.terminal, _ = online_messages(device_id)
        self._client: paho.Client | None = None

    def connect(self, now: datetime) -> None:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"lone-{self.device_id}",
                             protocol=paho.MQTTv5)
        client.on_message = self._on_message
        ready = threading.Event()
        client.on_connect = lambda *_a: ready.set()
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        client.connect(self.host, self.port, clean_start=False, properties=props)
        client.loop_start()
        assert ready.wait(10)
        subscribed = threading.Event()
        client.on_subscribe = lambda *_a: subscribed.set()
        client.subscribe(device_topic(self.device_id, Channel.COMMAND), qos=1)
        assert subscribed.wait(10)
        self.terminal.connecting(now)
        for e in self.terminal.connected(now):
            client.publish(e.topic, e.payload, qos=1).wait_for_publish(10)
        for e in self.terminal.core.health_due(self.terminal.report(now), now):
            client.publish(e.topic, e.payload, qos=1).wait_for_publish(10)
        self._client = client

    def disconnect(self) -> None:
        assert self._client is not None
        self.terminal.disconnected()
        self._client.disconnect()
        self._client.loop_stop()
        self._client = None

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        command = decode_for_channel(Channel.COMMAND, msg.payload)
        assert isinstance(command, Command)
        with self._cond:
            self.commands.append(command)
            self._cond.notify_all()

    def wait_for(self, name: str, timeout: float = 20.0) -> Command:
        with self._cond:
            assert self._cond.wait_for(lambda: any(c.name == name for c in self.commands),
                                       timeout), f"no {name} arrived: {self.commands}"
            return next(c for c in self.commands if c.name == name)


def test_an_update_whose_ttl_passed_while_the_terminal_was_offline_never_arrives(
    tmp_path: Path, mosquitto: services.Mosquitto
) -> None:
    with supervised(tmp_path / "logs") as sup:
        manager, proc = _manager(sup, tmp_path / "manager", mosquitto, free_port())
        stack = FleetStack(sup=sup, workdir=tmp_path, broker=mosquitto, manager=manager,
                           manager_proc=proc)
        lone = LoneTerminal(mosquitto.url, "L-1")
        lone.connect(utc_now())
        stack.wait_device("L-1", lambda d: d["online"] and d["app_version"], "born")
        lone.disconnect()  # away, its session kept at the broker

        rollout = _create(stack.api, _spec(groups=["rest"], ttl_s=2), "ttl-1")
        sent = wait_for(lambda: (t := _targets(stack.api, rollout["id"])["L-1"])["command_id"]
                        and t, "the update to be stored and published")
        update = stack.command(sent["command_id"])
        assert update["name"] == "update" and update["status"] == "sent"  # to the broker
        # A command queued after it, with a long TTL: on reconnect, anything still deliverable
        # of the two arrives in issue order, so the ping arriving proves the update had its
        # chance and was not sent.
        ping = stack.post_command("L-1", {"name": "ping", "ttl_s": 300}, "ping-after")
        assert ping.status_code == 202
        expires = datetime.fromisoformat(update["expires_at"])
        wait_for(lambda: utc_now() > expires + timedelta(seconds=1), "the update's TTL to pass")

        lone.connect(utc_now())
        lone.wait_for("ping")
        assert [c.name for c in lone.commands if c.name == "update"] == []
        target = wait_for(lambda: (t := _targets(stack.api, rollout["id"])["L-1"])["state"]
                          == "expired" and t, "the target to count as expired",
                          diagnostics=lambda: proc.log_tail(20))
        assert target["error"] == "not delivered within its TTL"
        assert [c.name for c in lone.commands if c.name == "update"] == []
        lone.disconnect()
