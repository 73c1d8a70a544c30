"""Journeys, one module each, as frozen descriptors (kiosk.flow.journeys.base.Journey).

Adding one is its module, its screen, its catalogue strings and one line here.
"""

from __future__ import annotations

from kiosk.flow.journeys.base import Capabilities, Journey
from kiosk.flow.journeys.benefits import BENEFITS

JOURNEYS: tuple[Journey, ...] = (
    BENEFITS,
)

__all__ = ["JOURNEYS", "Capabilities", "Journey"]
