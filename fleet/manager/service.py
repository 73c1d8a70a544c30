"""The fleet manager process: wires registry, MQTT ingest, sweeper and commands (REST is
`fleet.manager.api`, which uses this module; this module never imports it)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from common.clock import utc_now
from fleet.manager import migrations
from fleet.manager.commands import CommandService
from fleet.manager.config import ConfigService
from fleet.manager.db import open_database
from fleet.manager.ingest import IngestWriter
from fleet.manager.registry import Registry
from fleet.manager.rollouts.ticker import RolloutTicker
from fleet.manager.settings import FleetManagerSettings
from fleet.manager.stats import IngestStats
from fleet.mqtt import ConnectOptions, MqttClient
from fleet.mqtt_ingest import IngestSubscription
from fleet.protocol import MANAGER_SUBSCRIPTION

log = logging.getLogger(__name__)


class Sweeper:
    """Marks devices offline after silence, unanswered commands timed out, and forgets devices
    that never became healthy. Each step runs on its own: one failing stops none of the others."""

    def __init__(
        self, registry: Registry, offline_after_s: float, unconfirmed_retention_s: float
    ) -> None:
        self._registry = registry
        self._offline_after_s = offline_after_s
        self._retention_s = unconfirmed_retention_s
        self.interval_s = min(15.0, max(0.5, offline_after_s / 4))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def sweep(self) -> None:
        now = utc_now()
        steps: list[tuple[str, Callable[[], object]]] = [
            ("offline", lambda: self._registry.sweep_offline(now, self._offline_after_s)),
            ("commands", lambda: self._registry.time_out_commands(now)),
            ("unconfirmed", lambda: self._registry.expire_unconfirmed(now, self._retention_s)),
        ]
        for name, step in steps:
            try:
                step()
            except Exception:
                log.warning("sweep step %s failed; retrying next round", name, exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sweep()


class FleetManager:
    def __init__(self, settings: FleetManagerSettings) -> None:
        self.settings = settings
        self.db = open_database(settings.database_url)
        self.registry = Registry(
            self.db,
            history_interval_s=settings.history_interval_s,
            max_session_ahead_s=settings.max_session_ahead_s,
        )
        self.stats = IngestStats()
        # Commands out (paho, like the agent): no subscription, so no session worth keeping.
        self.mqtt = MqttClient(
            settings.broker(),
            ConnectOptions(
                client_id=f"{settings.mqtt_client_id()}-out",
                keepalive_s=settings.keepalive_s,
                max_inflight=1000,
                tls=settings.tls_files(),
            ),
        )
        self.commands = CommandService(
            self.registry, self.mqtt, default_ttl_s=settings.default_command_ttl_s
        )
        self.config = ConfigService(self.registry, self.commands)
        self.writer = IngestWriter(
            self.registry,
            self.stats,
            on_reborn=self._on_reborn,
            on_unborn=self.commands.request_rebirth,
            batch_max=settings.ingest_batch_max,
        )
        # Ingest: a persistent session under a stable id, so that what the broker holds for us
        # (in flight, unacknowledged until committed, or queued) survives a crash of this
        # process. Over gmqtt, the high-rate path (fleet/mqtt_ingest.py says why).
        self.ingest = IngestSubscription(
            settings.broker(),
            ConnectOptions(
                client_id=settings.mqtt_client_id(),
                clean_start=False,
                session_expiry_s=settings.session_expiry_s,
                keepalive_s=settings.keepalive_s,
                receive_maximum=settings.receive_maximum,
                manual_ack=True,
                tls=settings.tls_files(),
            ),
            MANAGER_SUBSCRIPTION,
            self.writer.submit,
        )
        self.sweeper = Sweeper(self.registry, settings.offline_after_s,
                               settings.unconfirmed_retention_s)
        self.rollouts = RolloutTicker(self.db, self.commands, interval_s=settings.rollout_tick_s)

    def _on_reborn(self, device_ids: list[str]) -> None:
        self.commands.redeliver(device_ids)
        self.config.reconcile(device_ids)

    def start(self) -> None:
        migrations.upgrade(self.db)
        self.writer.start()
        self.sweeper.start()
        self.mqtt.start()
        self.ingest.start()
        self.rollouts.start()
        log.info(
            "fleet manager %s: broker %s, persistent session (expiry %ds), database %s",
            self.ingest.options.client_id, self.ingest.broker, self.settings.session_expiry_s,
            self.db.write.url,
        )

    def stop(self) -> None:
        # The subscription stays: the broker keeps our share for us until we are back (or the
        # session expires), so a restart loses nothing.
        self.rollouts.stop()
        # What is queued is applied and acknowledged while the ingest connection is still up;
        # what arrives after that stays unacknowledged, for the session or another manager.
        self.writer.stop()
        self.ingest.stop()
        # Before MQTT goes, so that a re-send under way (after a birth the writer just applied)
        # still reaches the broker. Queued re-sends are dropped: those commands wait for the
        # device's next birth, or time out.
        self.config.stop()
        self.commands.stop()
        self.mqtt.stop()
        self.sweeper.stop()
        self.db.dispose()
        log.info("fleet manager stopped")

    def status(self) -> dict[str, Any]:
        database_ok = self.registry.ping()
        connected = self.mqtt.connected and self.ingest.connected
        subscribed = connected and self.ingest.ready
        broker = {"url": str(self.mqtt.broker), "connected": connected,
                  "subscribed": subscribed}
        return {
            # Not "status": problem+json uses that name for the HTTP status.
            "state": "ok" if (database_ok and subscribed) else "degraded",
            "ready": database_ok and subscribed,
            "client_id": self.ingest.options.client_id,
            "broker": broker,
            "database": {"ok": database_ok},
            "ingest": self.stats.snapshot(self.writer.backlog),
        }
