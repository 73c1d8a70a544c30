"""A journey (a service on the home screen) as a frozen descriptor, as HA's entity
descriptions are: the core reads these fields and has no journey-specific code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.flow.ports import EdgePort
from kiosk.flow.screens import ScreenName

# What this terminal and its edge can do ("printer", "edge.social-insurance-proof", ...).
# The peripheral registry and the edge's health will fill it; journeys say what they need.
Capabilities = frozenset[str]


def always(_capabilities: Capabilities) -> bool:
    return True


@dataclass(frozen=True)
class Journey:
    key: str  # also its i18n prefix ("home.<key>", "<key>.title")
    home_target: str  # automation id of its button on the home screen
    screens: tuple[ScreenName, ...]  # the first one shows the loaded content
    load: Callable[[EdgePort, str], object]  # blocking, on a worker: session id -> payload
    # (as_of, stale) of a payload: how fresh the data on screen is.
    freshness: Callable[[object], tuple[dt.datetime | None, bool]]
    rows: Callable[[object], int]  # how many rows the content pages through
    has_fn: Callable[[Capabilities], bool] = always

    @property
    def screen(self) -> ScreenName:
        return self.screens[0]
