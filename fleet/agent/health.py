"""Health collection: the host (psutil, the thermal zones), the kiosk's local status endpoint
(its peripherals, and its own view of the edge, its outbox and its maintenance mode) and, when
configured, the hall's edge server (its outbox, central reachability and cache).

The agent never opens the peripherals itself (the card reader is exclusive); it asks the kiosk,
which knows each driver's health (docs/contracts/drivers.md).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from pydantic import TypeAdapter, ValidationError

from common.clock import Deadline
from common.http import AnswerTooLarge, DeadlinePassed, deadline_transport, read_bounded, within
from fleet.agent.kiosk_status import (
    MAX_STATUS_BYTES,
    KioskStatusRejected,
    StatusRejection,
    read_kiosk_status,
)
from fleet.agent.state import PeripheralMemory
from fleet.protocol.limits import MAX_PERIPHERALS
from fleet.protocol.messages import (
    KIOSK_UNREACHABLE,
    EdgeHealth,
    KioskHealth,
    MaintenanceHealth,
    OutboxHealth,
    PeripheralHealth,
    PeripheralState,
    SystemHealth,
    TemperatureC,
)

log = logging.getLogger(__name__)


def fetch_bounded(url: str, timeout_s: float, max_bytes: int, closed: threading.Event) -> bytes:
    """GET `url`'s body within one total deadline and `max_bytes` (AnswerTooLarge past it), or
    StatusUnavailable. One deadline for the whole exchange: httpx's timeouts are per read, and
    a peer trickling a byte a second would hold the agent."""
    deadline = Deadline(timeout_s)
    try:
        # A fresh connection each time: a poll every interval is cheap, and no socket lingers
        # into stop().
        with (
            httpx.Client(transport=deadline_transport(1, 0), timeout=timeout_s) as client,
            within(deadline),
            client.stream("GET", url) as r,
        ):
            r.raise_for_status()
            if closed.is_set():
                raise StatusUnavailable("the agent is stopping")
            return read_bounded(r, max_bytes, deadline)
    except AnswerTooLarge:
        raise
    except DeadlinePassed:
        raise StatusUnavailable(f"no full answer within {timeout_s:g}s") from None
    except (httpx.HTTPError, ValueError, RecursionError) as exc:
        raise StatusUnavailable(str(exc) or type(exc).__name__) from None


def system_health(disk_path: Path) -> SystemHealth:
    try:
        disk = psutil.disk_usage(str(disk_path)).percent
    except OSError:
        disk = 0.0
    return SystemHealth(
        # Non-blocking: the share of CPU since the previous call (the first call primes it).
        cpu_percent=min(100.0, psutil.cpu_percent(interval=None)),
        memory_percent=psutil.virtual_memory().percent,
        disk_percent=disk,
        uptime_s=max(0.0, time.time() - psutil.boot_time()),
    )


# -- temperature ----------------------------------------------------------------------------

#: Thermal zones read at most (a PC has a handful; more is not a thermal directory).
MAX_THERMAL_ZONES = 64
_TEMPERATURE = TypeAdapter(TemperatureC)


def read_temperature(thermal_dir: Path) -> float | None:
    """The hottest of `<thermal_dir>/thermal_zone*/temp` (millidegrees Celsius), in degrees;
    None where there is none. A zone that cannot be read or says something outside -40..150
    (a disabled sensor reads -273 or 0x7fffffff) is left out alone."""
    try:
        zones = sorted(thermal_dir.glob("thermal_zone*"))[:MAX_THERMAL_ZONES]
    except OSError:
        return None
    readings: list[float] = []
    for zone in zones:
        try:
            with (zone / "temp").open("rb") as f:
                raw = f.read(32)
            value = _TEMPERATURE.validate_python(int(raw.strip()) / 1000.0)
        except (OSError, ValueError):  # ValidationError is a ValueError
            continue
        readings.append(round(value, 1))
    return max(readings, default=None)


# -- the kiosk ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KioskReport:
    kiosk: KioskHealth
    peripherals: dict[str, PeripheralHealth]
    # From the status document's optional entries (None when the kiosk does not give them).
    edge_reachable: bool | None = None
    outbox: OutboxHealth | None = None
    maintenance: MaintenanceHealth | None = None


class StatusUnavailable(Exception):
    """The kiosk's status endpoint did not answer usably within its deadline."""


def parse_kiosk_status(body: bytes) -> KioskReport:
    """The kiosk's status document → what the agent reports. The one place that reads it;
    raises KioskStatusRejected (fleet/agent/kiosk_status.py validates the contract)."""
    status = read_kiosk_status(body)
    return KioskReport(
        kiosk=KioskHealth(
            reachable=True,
            screen=status.screen,
            session_active=status.session_active,
            app_version=status.app_version,
        ),
        peripherals={
            name: PeripheralHealth(state=p.state, code=p.code, reason=p.reason)
            for name, p in status.peripherals.items()
        },
        **kiosk_extras(status),
    )


def _entry(entry: object, name: str) -> Any:
    return entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)


def kiosk_extras(status: object) -> dict[str, Any]:
    """The optional `edge`, `outbox` and `maintenance` entries of a status document, each
    validated alone (a bad one is null, the others stand). Read with getattr: a reader of an
    older contract has no such attributes, and every entry is then null."""
    extras: dict[str, Any] = {}
    edge = getattr(status, "edge", None)
    reachable = _entry(edge, "reachable") if edge is not None else None
    if isinstance(reachable, bool):
        extras["edge_reachable"] = reachable
    for key, model, fields in (("outbox", OutboxHealth, ("depth", "oldest_age_s")),
                               ("maintenance", MaintenanceHealth, ("on", "pending"))):
        entry = getattr(status, key, None)
        if entry is None:
            continue
        given = {f: _entry(entry, f) for f in fields}
        try:
            extras[key] = model.model_validate(
                {f: v for f, v in given.items() if v is not None}, strict=True)
        except ValidationError:
            log.debug("kiosk status: %s entry out of the contract; reported as null", key)
    return extras


class KioskProbe:
    """Asks the kiosk's `GET /status` within a total deadline; remembers what it last said."""

    def __init__(
        self, url: str, timeout_s: float, memory: PeripheralMemory, expected: list[str]
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._memory = memory
        self._expected = expected
        self.last_app_version: str | None = None
        self._was_reachable: bool | None = None
        self._closed = threading.Event()
        self._rejection: StatusRejection | None = None

    def close(self) -> None:
        self._closed.set()

    def fetch(self) -> bytes:
        """The status document's bytes, or StatusUnavailable (KioskStatusRejected when it
        is too large)."""
        try:
            return fetch_bounded(self.url, self.timeout_s, MAX_STATUS_BYTES, self._closed)
        except AnswerTooLarge as exc:
            raise KioskStatusRejected(StatusRejection.TOO_LARGE, str(exc)) from None

    def report(self) -> KioskReport:
        try:
            report = parse_kiosk_status(self.fetch())
        except StatusUnavailable as exc:
            self._note_reachable(False, exc)
            return self._unreachable()
        except KioskStatusRejected as exc:
            self._note_reachable(True)
            return self._rejected(exc)
        self._note_reachable(True)
        self._rejection = None
        self._memory.remember(
            {n: p.model_dump(mode="json") for n, p in report.peripherals.items()}
        )
        if report.kiosk.app_version:
            self.last_app_version = report.kiosk.app_version
        return report

    def _unreachable(self) -> KioskReport:
        names = list(dict.fromkeys([*self._memory.names(), *self._expected]))[:MAX_PERIPHERALS]
        missing = PeripheralHealth(
            state=PeripheralState.MISSING,
            code=KIOSK_UNREACHABLE,
            reason="the kiosk's status endpoint does not answer",
        )
        return KioskReport(
            kiosk=KioskHealth(reachable=False), peripherals=dict.fromkeys(names, missing)
        )

    def _rejected(self, exc: KioskStatusRejected) -> KioskReport:
        """The kiosk answers, but not with a document this agent can read: a state of its own
        (not "unreachable"), on every peripheral it last knew of, logged once per change."""
        if exc.rejection != self._rejection:
            log.warning("kiosk status endpoint %s: document refused: %s", self.url, exc)
        self._rejection = exc.rejection
        names = list(dict.fromkeys([*self._memory.names(), *self._expected]))[:MAX_PERIPHERALS]
        refused = PeripheralHealth(state=PeripheralState.MISSING, code=str(exc.rejection),
                                   reason=exc.detail[:200])
        return KioskReport(kiosk=KioskHealth(reachable=True),
                           peripherals=dict.fromkeys(names, refused))

    def _note_reachable(self, reachable: bool, exc: Exception | None = None) -> None:
        # Log transitions only: an unreachable kiosk would otherwise log every interval.
        if reachable != self._was_reachable:
            if reachable:
                log.info("kiosk status endpoint %s answers", self.url)
            else:
                log.warning("kiosk status endpoint %s does not answer: %s", self.url, exc)
        self._was_reachable = reachable


# -- the hall's edge server ----------------------------------------------------------------

#: The edge's health answer is a few hundred bytes; more is not a health answer.
MAX_EDGE_HEALTH_BYTES = 16 * 1024
EDGE_HEALTH_PATH = "/api/v1/health"
_CENTRAL = {"reachable": True, "unreachable": False, "unknown": None}


def parse_edge_health(body: bytes) -> tuple[EdgeHealth, list[str]]:
    """The edge's `GET /api/v1/health` answer → what the agent reports, and the names of the
    fields it refused. Each field is validated alone (type and range, strictly: a string or a
    boolean is not a count), so one bad or missing field (an older edge has no outbox) nulls
    that field only. A body that is not an edge's health answer at all refuses every field."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict) or doc.get("status") != "ok":
        return EdgeHealth(reachable=True), ["document"]
    outbox = doc.get("outbox")
    outbox = outbox if isinstance(outbox, dict) else {}
    central = doc.get("central")
    given: dict[str, Any] = {
        "central_reachable": _CENTRAL.get(central, "?") if isinstance(central, str) else "?",
        "outbox_depth": outbox.get("depth"),
        "oldest_pending_age_s": outbox.get("oldest_pending_age_s"),
        "dead_letters": outbox.get("dead_letters"),
        "outbox_full": outbox.get("full"),
        "cache_hit_ratio": doc.get("cache_hit_ratio"),
    }
    kept: dict[str, Any] = {}
    refused: list[str] = []
    for name, value in given.items():
        try:
            EdgeHealth.model_validate({"reachable": True, name: value}, strict=True)
        except ValidationError:
            refused.append(name)
            continue
        kept[name] = value
    return EdgeHealth(reachable=True, **kept), refused


class EdgeProbe:
    """Asks the edge's health endpoint within a total deadline, for each health message."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        self.url = base_url.rstrip("/") + EDGE_HEALTH_PATH
        self.timeout_s = timeout_s
        self._closed = threading.Event()
        self._was_reachable: bool | None = None
        self._refused: list[str] = []

    def close(self) -> None:
        self._closed.set()

    def report(self) -> EdgeHealth:
        try:
            body = fetch_bounded(self.url, self.timeout_s, MAX_EDGE_HEALTH_BYTES, self._closed)
        except (StatusUnavailable, AnswerTooLarge) as exc:
            self._note_reachable(False, exc)
            return EdgeHealth(reachable=False)
        self._note_reachable(True)
        health, refused = parse_edge_health(body)
        # Logged once per change: a bad field would otherwise log every interval.
        if refused != self._refused:
            if refused:
                log.warning("edge health %s: fields refused (null in the report): %s",
                            self.url, ", ".join(refused))
            self._refused = refused
        return health

    def _note_reachable(self, reachable: bool, exc: Exception | None = None) -> None:
        if reachable != self._was_reachable:
            if reachable:
                log.info("edge health endpoint %s answers", self.url)
            else:
                log.warning("edge health endpoint %s does not answer: %s", self.url, exc)
        self._was_reachable = reachable
