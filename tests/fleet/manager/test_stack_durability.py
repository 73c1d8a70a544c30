"""kill -9 of a real manager with thousands of messages in flight, restarted with its default
configuration: every message is stored, exactly once (a stable client id and a persistent
session keep them at the broker; the manager acknowledges only after its commit)."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from fleet.protocol import Birth, Channel, device_topic, encode
from simulators.stack import services
from simulators.stack.ports import free_port
from tests.fleet.manager.support import S1
from tests.fleet.support import MqttProbe
from tests.harness.stack import supervised
from tests.harness.waiting import wait_for

COUNT = 5000


def _counts(db: Path) -> tuple[int, int, int]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            devices = conn.execute(text("SELECT count(*) FROM fleet_device")).scalar_one()
            births = conn.execute(text(
                "SELECT count(*) FROM fleet_presence_event WHERE kind = 'birth'")).scalar_one()
            doubled = conn.execute(text(
                "SELECT count(*) FROM (SELECT device_id FROM fleet_presence_event "
                "GROUP BY device_id HAVING count(*) > 1)")).scalar_one()
    finally:
        engine.dispose()
    return devices, births, doubled


def _ingested(url: str) -> int:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=2).json()["ingest"]["ingested"]
    except (httpx.HTTPError, KeyError, ValueError):
        return 0


def test_kill_9_with_messages_in_flight_loses_nothing_with_the_default_config(
    tmp_path: Path, mosquitto: services.Mosquitto
) -> None:
    port = free_port()
    workdir = tmp_path / "manager"
    db = workdir / "fleet.db"
    with supervised(tmp_path / "logs") as sup:
        first = services.fleet_manager(workdir, broker_url=mosquitto.url, port=port)
        # Only so that the kill surely lands mid-stream: one message per transaction is slow.
        first.spec.env["FLEET_MANAGER_INGEST_BATCH_MAX"] = "1"
        proc = sup.start(first.spec)
        probe = MqttProbe(mosquitto.url, client_id="durability-probe")

        def publish_all() -> None:
            for i in range(COUNT):
                device_id = f"T-{i:05d}"
                probe.publish(device_topic(device_id, Channel.BIRTH), encode(Birth(
                    device_id=device_id, session_seq=S1, app_version="1", agent_version="1",
                    site="hall", hostname="h", health_interval_s=5)))

        # The kill lands while messages are in the manager's queue, in flight to it, and still
        # being published (those the broker queues for the dead manager's session).
        publisher = threading.Thread(target=publish_all, name="durability-publisher")
        publisher.start()
        try:
            wait_for(lambda: _ingested(first.url) >= 200, "the manager to be mid-stream",
                     diagnostics=lambda: proc.log_tail(30))
            proc.kill()
        finally:
            publisher.join(120)
            probe.close()
        assert not publisher.is_alive()
        sup.processes.remove(proc)
        stored_at_kill = _counts(db)[0]
        assert stored_at_kill < COUNT, "the kill came too late to prove anything"

        again = services.fleet_manager(workdir, broker_url=mosquitto.url, port=port)  # defaults
        restarted = sup.start(again.spec)
        wait_for(lambda: _counts(db)[0] == COUNT or None, f"all {COUNT} devices stored",
                 timeout=120, diagnostics=lambda: f"{_counts(db)}\n{restarted.log_tail(30)}")
        assert _counts(db) == (COUNT, COUNT, 0)  # each birth stored once, none twice
