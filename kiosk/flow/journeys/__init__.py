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
from kiosk.flow.journeys.certificate import CERTIFICATE, RIGHTS_RECORD
from kiosk.flow.journeys.certify import CERTIFY
from kiosk.flow.journeys.contributions import CONTRIBUTIONS
from kiosk.flow.journeys.field_certify import FIELD_CERTIFY
from kiosk.flow.journeys.field_login import FIELD_LOGIN
from kiosk.flow.journeys.field_trip import FIELD_TRIP
from kiosk.flow.journeys.pension_account import PENSION_ACCOUNT
from kiosk.flow.journeys.pin import PIN_CHANGE
from kiosk.flow.journeys.pin_unlock import PIN_UNLOCK

# In the order of the services menu (walk-up ones appear on the attract screen instead).
JOURNEYS: tuple[Journey, ...] = (
    BENEFITS,
    CONTRIBUTIONS,
    PENSION_ACCOUNT,
    APPLY,
    APPLICATIONS,
    CERTIFICATE,  # offered where the terminal has a printer (A4, else receipt)
    RIGHTS_RECORD,  # the same steps for the 个人权益记录
    PIN_CHANGE,  # offered with a card PIN port, for sessions opened by the card
    PIN_UNLOCK,  # likewise, where the reader reloads a PIN (staff credentials)
    CARD_LOSS,
    CARD_LOSS_REVERSAL,
    CERTIFY,  # offered where the terminal has a camera and a face engine
    # Field mode only (capability "field"): on the attract screen, for the staff member.
    FIELD_LOGIN,
    FIELD_TRIP,
    FIELD_CERTIFY,
)

__all__ = ["JOURNEYS", "Capabilities", "Journey"]
