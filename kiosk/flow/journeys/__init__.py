"""Journeys, one module each, as frozen descriptors (kiosk.flow.journeys.base.Journey).

Adding one is its module (a descriptor and its step machine), its screens, its catalogue
strings and one line here.
"""

from __future__ import annotations

from kiosk.flow.journeys.applications import APPLICATIONS
from kiosk.flow.journeys.apply import APPLY
from kiosk.flow.journeys.base import Capabilities, Journey
from kiosk.flow.journeys.benefits import BENEFITS
from kiosk.flow.journeys.card_loss import CARD_LOSS
from kiosk.flow.journeys.card_loss_reversal import CARD_LOSS_REVERSAL

# In the order of the services menu (walk-up ones appear on the attract screen instead).
JOURNEYS: tuple[Journey, ...] = (
    BENEFITS,
    APPLY,
    APPLICATIONS,
    CARD_LOSS,
    CARD_LOSS_REVERSAL,
)

__all__ = ["JOURNEYS", "Capabilities", "Journey"]
