"""Ways of identifying, one module each, behind one protocol (kiosk.flow.identify.base).

Adding one (QR e-SSC, face, a staff-typed ID number) is its module plus one line here.
"""

from __future__ import annotations

from kiosk.flow.identify.base import IdentifyMethod
from kiosk.flow.identify.card import CardMethod
from kiosk.flow.identify.idcard import IdCardMethod
from kiosk.flow.identify.qr import QrMethod

METHODS: tuple[IdentifyMethod, ...] = (
    CardMethod(),
    QrMethod(),
    IdCardMethod(),
)

__all__ = ["METHODS", "IdentifyMethod"]
