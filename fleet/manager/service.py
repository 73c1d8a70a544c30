"""The fleet manager process: wires registry, MQTT ingest, sweeper, commands and REST."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from fleet.manager.commands import CommandService
from fleet.manager.db import open_database
from fleet.manager.ingest import IngestWriter
from fleet.manager.registry import Registry
from fleet.manager.settings import FleetManagerSettings
from fleet.manager.stats import IngestStats
from fleet.mqtt import ConnectOptions, MqttClient, MqttError, default_client_id
from fleet.protocol import MANAGER_SUBSCRIPTION, utc_now

log = logging.getLogger(__name__)


class Sweeper:
    """Marks devices offline after silence, and unanswered commands timed out."""

    def __init__(self, registry: Registry, offline_after_s: float) -> None:
        self._registry = registry
        self._offline_after_s = offline_after_s
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
        self._registry.sweep_offline(now, self._offline_after_s)
        self._registry.time_out_commands(now)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sweep()
            except SQLAlchemyError:
                log.warning("sweep failed; retrying next round", exc_info=True)
            except Exception:  # a bug: keep sweeping rather than end the thread silently
                log.exception("sweep failed")


class FleetManager:
    def __init__(self, settings: FleetManagerSettings) -> None:
        self.settings = settings
        self.db = open_database(settings.database_url)
        self.registry = Registry(self.db, history_interval_s=settings.history_interval_s)
        self.stats = IngestStats()
        self.persistent_session = settings.client_id is not None
        self.mqtt = MqttClient(
            settings.broker(),
            ConnectOptions(
                client_id=settings.client_id or default_client_id("fleet-manager"),
                clean_start=not self.persistent_session,
                session_expiry_s=settings.session_expiry_s if self.persistent_session else 0,
                keepalive_s=settings.keepalive_s,
                receive_maximum=settings.receive_maximum,
                manual_ack=True,
                max_inflight=1000,
                tls=settings.tls_files(),
            ),
        )
        self.commands = CommandService(
            self.registry, self.mqtt, default_ttl_s=settings.default_command_ttl_s
        )
        self.writer = IngestWriter(
            self.registry,
            self.stats,
            on_reborn=self.commands.redeliver,
            batch_max=settings.ingest_batch_max,
        )
        self.sweeper = Sweeper(self.registry, settings.offline_after_s)
        self.mqtt.subscribe(MANAGER_SUBSCRIPTION, self.writer.submit, qos=1)

    def start(self) -> None:
        self.registry.create_schema()
        self.writer.start()
        self.sweeper.start()
        self.mqtt.start()
        log.info(
            "fleet manager %s: broker %s, %s session, database %s",
            self.mqtt.options.client_id, self.mqtt.broker,
            "persistent" if self.persistent_session else "clean", self.db.write.url,
        )

    def stop(self) -> None:
        if not self.persistent_session:
            # Let the other managers take new messages while we finish ours; a persistent
            # session keeps its subscription so the broker holds our share until we are back.
            try:
                self.mqtt.unsubscribe(MANAGER_SUBSCRIPTION, timeout=2.0)
            except MqttError as exc:
                log.info("unsubscribe on shutdown: %s", exc)
        self.writer.stop()
        # Before MQTT goes, so that a re-send under way (after a birth the writer just applied)
        # still reaches the broker. Queued re-sends are dropped: those commands wait for the
        # device's next birth, or time out.
        self.commands.stop()
        self.mqtt.stop()
        self.sweeper.stop()
        self.db.dispose()
        log.info("fleet manager stopped")

    def status(self) -> dict[str, Any]:
        database_ok = self.registry.ping()
        broker = {"url": str(self.mqtt.broker), "connected": self.mqtt.connected,
                  "subscribed": self.mqtt.ready}
        return {
            # Not "status": problem+json uses that name for the HTTP status.
            "state": "ok" if (database_ok and self.mqtt.ready) else "degraded",
            "ready": database_ok and self.mqtt.ready,
            "client_id": self.mqtt.options.client_id,
            "broker": broker,
            "database": {"ok": database_ok},
            "ingest": self.stats.snapshot(self.writer.backlog),
        }


def run(settings: FleetManagerSettings) -> None:
    """Serve until SIGTERM/SIGINT (uvicorn handles them and runs the shutdown)."""
    import uvicorn

    from fleet.manager.api import create_app

    manager = FleetManager(settings)
    uvicorn.run(
        create_app(manager),
        host=settings.host,
        port=settings.port,
        log_config=None,  # common.logs already routes uvicorn's loggers
        access_log=settings.access_log,
        lifespan="on",
    )
