"""Health collection: the host (psutil) and the kiosk's local status endpoint.

The agent never opens the peripherals itself (the card reader is exclusive); it asks the kiosk,
which knows each driver's health (docs/contracts/drivers.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from fleet.agent.state import PeripheralMemory
from fleet.protocol.messages import (
    KIOSK_UNREACHABLE,
    KioskHealth,
    PeripheralHealth,
    PeripheralState,
    SystemHealth,
)

log = logging.getLogger(__name__)

_STATES = {s.value for s in PeripheralState}


def system_health(disk_path: Path) -> SystemHealth:
    try:
        disk = psutil.disk_usage(str(disk_path)).percent
    except OSError:
        disk = 0.0
    return SystemHealth(
        # Non-blocking: the share of CPU since the previous call (the first call primes it).
        cpu_percent=psutil.cpu_percent(interval=None),
        memory_percent=psutil.virtual_memory().percent,
        disk_percent=disk,
        uptime_s=max(0.0, time.time() - psutil.boot_time()),
    )


@dataclass(frozen=True)
class KioskReport:
    kiosk: KioskHealth
    peripherals: dict[str, PeripheralHealth]


def _peripheral(raw: Any) -> PeripheralHealth:
    if not isinstance(raw, dict):
        return PeripheralHealth(state=PeripheralState.DEGRADED, code="bad-status",
                                reason="the kiosk reported this peripheral in an unknown form")
    state = str(raw.get("state", ""))
    code = str(raw.get("code", "") or state or "unknown")
    reason = str(raw.get("reason", ""))
    if state not in _STATES:
        return PeripheralHealth(state=PeripheralState.DEGRADED, code=code,
                                reason=reason or f"unknown state {state[:32]!r}")
    return PeripheralHealth(state=PeripheralState(state), code=code, reason=reason)


class KioskProbe:
    """Asks the kiosk's `GET /status`; remembers what it last said."""

    def __init__(
        self, url: str, timeout_s: float, memory: PeripheralMemory, expected: list[str]
    ) -> None:
        self.url = url
        self._client = httpx.Client(timeout=timeout_s)
        self._memory = memory
        self._expected = expected
        self.last_app_version: str | None = None
        self._was_reachable: bool | None = None

    def close(self) -> None:
        self._client.close()

    def report(self) -> KioskReport:
        try:
            response = self._client.get(self.url)
            response.raise_for_status()
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError("status is not a JSON object")
        except (httpx.HTTPError, ValueError) as exc:
            self._note_reachable(False, exc)
            return self._unreachable()
        self._note_reachable(True)
        raw_peripherals = body.get("peripherals")
        peripherals = {
            str(name): _peripheral(raw)
            for name, raw in (raw_peripherals.items() if isinstance(raw_peripherals, dict) else ())
        }
        self._memory.remember({n: p.model_dump(mode="json") for n, p in peripherals.items()})
        app_version = body.get("app_version")
        if isinstance(app_version, str) and app_version:
            self.last_app_version = app_version
        screen = body.get("screen")
        session_active = body.get("session_active")
        return KioskReport(
            kiosk=KioskHealth(
                reachable=True,
                screen=screen if isinstance(screen, str) else None,
                session_active=session_active if isinstance(session_active, bool) else None,
                app_version=app_version if isinstance(app_version, str) else None,
            ),
            peripherals=peripherals,
        )

    def _unreachable(self) -> KioskReport:
        names = dict.fromkeys([*self._memory.names(), *self._expected])
        missing = PeripheralHealth(
            state=PeripheralState.MISSING,
            code=KIOSK_UNREACHABLE,
            reason="the kiosk's status endpoint does not answer",
        )
        return KioskReport(
            kiosk=KioskHealth(reachable=False), peripherals=dict.fromkeys(names, missing)
        )

    def _note_reachable(self, reachable: bool, exc: Exception | None = None) -> None:
        # Log transitions only: an unreachable kiosk would otherwise log every interval.
        if reachable != self._was_reachable:
            if reachable:
                log.info("kiosk status endpoint %s answers", self.url)
            else:
                log.warning("kiosk status endpoint %s does not answer: %s", self.url, exc)
        self._was_reachable = reachable
