"""Health collection: the host (psutil) and the kiosk's local status endpoint.

The agent never opens the peripherals itself (the card reader is exclusive); it asks the kiosk,
which knows each driver's health (docs/contracts/drivers.md).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

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
    KioskHealth,
    PeripheralHealth,
    PeripheralState,
    SystemHealth,
)

log = logging.getLogger(__name__)



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


@dataclass(frozen=True)
class KioskReport:
    kiosk: KioskHealth
    peripherals: dict[str, PeripheralHealth]


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
    )


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
        is too large). The whole exchange has one deadline
        (httpx's timeouts are per read: a kiosk trickling a byte a second would hold us)."""
        deadline = Deadline(self.timeout_s)
        try:
            # A fresh connection each time: a poll every interval is cheap, and no socket
            # lingers into stop().
            with (
                httpx.Client(transport=deadline_transport(1, 0), timeout=self.timeout_s) as client,
                within(deadline),
                client.stream("GET", self.url) as r,
            ):
                r.raise_for_status()
                if self._closed.is_set():
                    raise StatusUnavailable("the agent is stopping")
                return read_bounded(r, MAX_STATUS_BYTES, deadline)
        except AnswerTooLarge as exc:
            raise KioskStatusRejected(StatusRejection.TOO_LARGE, str(exc)) from None
        except DeadlinePassed:
            raise StatusUnavailable(f"no full answer within {self.timeout_s:g}s") from None
        except (httpx.HTTPError, ValueError, RecursionError) as exc:
            raise StatusUnavailable(str(exc) or type(exc).__name__) from None

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
