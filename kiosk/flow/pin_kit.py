"""The social-security PIN on the card, as the flow asks for it (issue 8).

The PIN is checked by the card itself (VERIFY), never by the kiosk or the edge: the card
reader's driver does it (/tmp/team/api-card.md) on the card last read. kiosk.card_pin wraps the
running reader as this port; each call runs on a worker within the driver's total deadline and
never raises for card trouble: it answers a `PinResultLike` (the driver's `PinResult`).

The digits go from the keypad's step machine straight into the call and are wiped after it;
they are in no repr and no log.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

CAPABILITY = "card-pin"
PIN_LENGTH = 6  # the social security card's PIN (社保卡密码)


class PinOutcome(StrEnum):
    """drivers.card.interface.PinOutcome's values (compared as strings)."""

    OK = "ok"
    WRONG_PIN = "wrong-pin"  # 63Cx: x tries left
    LOCKED = "locked"  # 6983: only the counter (or staff at the kiosk) can unlock it
    REMOVED = "removed"  # the card was pulled, or another card is in
    UNRESPONSIVE = "unresponsive"
    READER_UNAVAILABLE = "reader-unavailable"
    NOT_SSC = "not-ssc"
    REFUSED = "refused"
    FAILED = "failed"


class PinResultLike(Protocol):
    @property
    def outcome(self) -> str: ...

    @property
    def tries_left(self) -> int | None: ...


class PinPort(Protocol):
    def tries_left(self) -> PinResultLike:
        """How many tries the card has left, using none."""
        ...

    def verify(self, digits: str) -> PinResultLike: ...

    def change(self, old: str, new: str) -> PinResultLike: ...


_installed: list[PinPort] = []


def install_pin_port(port: PinPort | None) -> None:
    _installed[:] = [port] if port is not None else []


def installed_pin_port() -> PinPort | None:
    return _installed[0] if _installed else None


def capabilities_of(port: PinPort | None) -> frozenset[str]:
    return frozenset({CAPABILITY}) if port is not None else frozenset()


def outcome_of(result: PinResultLike) -> PinOutcome:
    try:
        return PinOutcome(str(result.outcome))
    except ValueError:
        return PinOutcome.FAILED
