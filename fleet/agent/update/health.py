"""What the update asks of the terminal: the update lock, the maintenance window, and the
health gate a new release must pass before it is committed.

Read from the kiosk's status document (docs/contracts/kiosk-status.md) and the edge's health
endpoint, each within a total deadline:
- lock: the kiosk answers and reports no citizen session (`session_active` false). A kiosk that
  does not answer holds the lock: it cannot say that nobody is at it.
- health: the kiosk answers with the new release's `app_version` (the restart took effect) on a
  real screen (not `starting`: the UI is up); every peripheral that answered before the switch
  answers again (not `missing`: one unplugged before the update does not count against the
  release); and the edge is reachable if it was before.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from common.clock import to_china
from fleet.agent.health import EDGE_HEALTH_PATH, MAX_EDGE_HEALTH_BYTES, fetch_bounded
from fleet.agent.health import StatusUnavailable as _Unavailable
from fleet.agent.kiosk_status import (
    MAX_STATUS_BYTES,
    KioskStatus,
    KioskStatusRejected,
    read_kiosk_status,
)
from fleet.protocol.messages import PeripheralState

_WINDOW = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")


@dataclass(frozen=True)
class Observation:
    kiosk: KioskStatus | None  # None: no usable answer
    kiosk_problem: str = ""
    edge_reachable: bool | None = None  # None: no edge configured

    def baseline(self) -> dict[str, Any]:
        """What answers now, for the health gate after the switch."""
        answering = sorted(n for n, p in (self.kiosk.peripherals if self.kiosk else {}).items()
                           if p.state is not PeripheralState.MISSING)
        return {"peripherals": answering, "edge": self.edge_reachable}


class TerminalStatus:
    """Reads the kiosk's status and the edge's health for the update runner."""

    def __init__(self, kiosk_url: str, kiosk_timeout_s: float, edge_url: str | None,
                 edge_timeout_s: float, closed: threading.Event) -> None:
        self.kiosk_url = kiosk_url
        self.kiosk_timeout_s = kiosk_timeout_s
        self.edge_url = edge_url.rstrip("/") + EDGE_HEALTH_PATH if edge_url else None
        self.edge_timeout_s = edge_timeout_s
        self._closed = closed

    def observe(self) -> Observation:
        kiosk: KioskStatus | None = None
        problem = ""
        try:
            body = fetch_bounded(self.kiosk_url, self.kiosk_timeout_s, MAX_STATUS_BYTES,
                                 self._closed)
            kiosk = read_kiosk_status(body)
        except (_Unavailable, KioskStatusRejected) as exc:
            problem = str(exc)[:200] or type(exc).__name__
        except Exception as exc:  # AnswerTooLarge and the like: not an answer either
            problem = type(exc).__name__
        edge: bool | None = None
        if self.edge_url is not None:
            try:
                fetch_bounded(self.edge_url, self.edge_timeout_s, MAX_EDGE_HEALTH_BYTES,
                              self._closed)
                edge = True
            except Exception:
                edge = False
        return Observation(kiosk, problem, edge)


def lock_free(obs: Observation) -> tuple[bool, str]:
    if obs.kiosk is None:
        return False, f"the kiosk does not answer ({obs.kiosk_problem})"
    if obs.kiosk.session_active:
        return False, "a citizen session is open"
    return True, ""


def healthy(obs: Observation, version: str, baseline: dict[str, Any]) -> tuple[bool, str]:
    """Whether the release `version` is up and working; if not, why, in a few words."""
    kiosk = obs.kiosk
    if kiosk is None:
        return False, f"the kiosk does not answer ({obs.kiosk_problem})"
    if kiosk.app_version != version:
        return False, f"the kiosk runs {kiosk.app_version}, not {version}"
    if kiosk.screen == "starting":
        return False, "the kiosk's UI is not up"
    for name in baseline.get("peripherals", []):
        p = kiosk.peripherals.get(name)
        if p is None or p.state is PeripheralState.MISSING:
            return False, f"{name} does not answer ({p.code if p else 'not reported'})"
    if baseline.get("edge") and not obs.edge_reachable:
        return False, "the edge server is not reachable"
    return True, ""


@dataclass(frozen=True)
class Window:
    """Daily hours in China time, "HH:MM-HH:MM"; may span midnight ("22:00-05:00")."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Window:
        m = _WINDOW.match(text.strip())
        if m is None:
            raise ValueError(f"maintenance window {text!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        return cls(time(h1, m1), time(h2, m2))

    def contains(self, moment: datetime) -> bool:
        t = to_china(moment).time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end
