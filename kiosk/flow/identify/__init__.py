"""Ways of identifying, one module each, behind one protocol (kiosk.flow.identify.base).

Adding one (QR e-SSC, face, a staff-typed ID number) is its module plus one line here.
"""

from __future__ import annotations

from kiosk.flow.identify.base import IdentifyMethod
from kiosk.flow.identify.card import CardMethod

METHODS: tuple[IdentifyMethod, ...] = (
    CardMethod(),
)

__all__ = ["METHODS", "IdentifyMethod"]
