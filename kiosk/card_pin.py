"""The card reader's PIN operations as the flow's port (kiosk.flow.pin_kit.PinPort).

The driver (drivers/card, /tmp/team/api-card.md) checks the PIN on the card last read, on its
own worker and within its own total deadline, and answers a `PinResult` rather than raise for
card trouble. This adapter only turns the keypad's digits into the driver's `Pin` (never
logged) and keeps a bug in a driver from reaching the flow as anything but "failed".

A staff reload takes the driver's `ReloadAuthoriser` built here over the edge's authorisation
(kiosk.edge.pin_authorisations): the driver asks it between GET CHALLENGE and RELOAD PIN. The
driver only knows "refused"; the answer here says why (`reason`: staff refused, too many
refusals, central unreachable, or the card itself refused the MAC).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from drivers.absent import Absent
from kiosk.edge.pin_authorisations import PinAuthorisationPort, Refusal, refusal_of
from kiosk.flow.pin_kit import PinOutcome, outcome_of

CARD_REFUSED = "card-refused"  # the card did not take the MAC (6988): a reason of its own

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PinAnswer:
    """A PinResult-like answer made here (the driver could not be asked)."""

    outcome: str
    tries_left: int | None = None
    reason: str | None = None  # a refused reload: why (Refusal, or CARD_REFUSED)


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

    @property
    def can_reload(self) -> bool:
        return callable(getattr(self._reader, "reload_pin", None))

    def reload(self, new: str, staff_id: str, staff_code: str,
               authorisations: PinAuthorisationPort) -> Any:
        """A new PIN and a fresh tries counter (the card's RELOAD PIN), authorised by the
        issuer through the edge for the staff member's credential."""
        from drivers.card.interface import Pin, ReloadRefused, ReloadRequest, StaffCredential

        refusals: list[Refusal] = []

        def authorise(request: ReloadRequest) -> bytes:
            try:
                return authorisations.authorise_pin(
                    "unblock" if request.operation == "unblock" else "reload",
                    request.card_id_code, request.challenge, request.staff.staff_id,
                    request.staff.code)
            except Exception as exc:  # the driver takes ReloadRefused only
                refusal = refusal_of(exc)
                if refusal is Refusal.FAILED:
                    log.warning("PIN reload authorisation failed (%s)", type(exc).__name__)
                refusals.append(refusal)
                raise ReloadRefused(str(refusal)) from None

        result = self._ask("reload", lambda: self._reader.reload_pin(
            Pin.from_digits(new), StaffCredential(staff_id, staff_code), authorise))
        if outcome_of(result) is PinOutcome.REFUSED:
            return PinAnswer(PinOutcome.REFUSED, None,
                             str(refusals[-1]) if refusals else CARD_REFUSED)
        return result

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
