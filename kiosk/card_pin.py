"""The card reader's PIN operations as the flow's port (kiosk.flow.pin_kit.PinPort).

The driver (drivers/card, /tmp/team/api-card.md) checks the PIN on the card last read, on its
own worker and within its own total deadline, and answers a `PinResult` rather than raise for
card trouble. This adapter only turns the keypad's digits into the driver's `Pin` (never
logged) and keeps a bug in a driver from reaching the flow as anything but "failed".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from drivers.absent import Absent
from kiosk.flow.pin_kit import PinOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PinAnswer:
    """A PinResult-like answer made here (the driver could not be asked)."""

    outcome: str
    tries_left: int | None = None


class CardPin:
    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def tries_left(self) -> Any:
        return self._ask("tries", self._reader.pin_tries_left)

    def verify(self, digits: str) -> Any:
        from drivers.card.interface import Pin

        return self._ask("verify", lambda: self._reader.verify_pin(Pin.from_digits(digits)))

    def change(self, old: str, new: str) -> Any:
        from drivers.card.interface import Pin

        return self._ask("change", lambda: self._reader.change_pin(Pin.from_digits(old),
                                                                   Pin.from_digits(new)))

    def _ask(self, what: str, call: Any) -> Any:
        try:
            result = call()
        except ValueError:  # not 4..12 digits: the keypad should not have let it through
            return PinAnswer(PinOutcome.FAILED)
        except Exception as exc:
            log.exception("card PIN %s failed in the driver (%s)", what, type(exc).__name__)
            return PinAnswer(PinOutcome.FAILED)
        log.info("card PIN %s: %s", what, getattr(result, "outcome", "?"))
        return result


def card_pin_from(reader: object) -> CardPin | None:
    """The port, where the reader can check PINs (the PC/SC driver can; absent ones cannot)."""
    if isinstance(reader, Absent) or not all(
            callable(getattr(reader, name, None))
            for name in ("pin_tries_left", "verify_pin", "change_pin")):
        return None
    return CardPin(reader)
