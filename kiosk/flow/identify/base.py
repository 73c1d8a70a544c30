"""The protocol every way of identifying follows, and the intents it speaks to the core.

A method turns its own device's events into a few intents; the core (kiosk.flow.core) does the
rest the same way for all of them: opening the session at the edge with retries, notices, the
stale guard, ending. Like Home Assistant's config-flow steps, every method converges on one
intent, `Identified(credential)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from kiosk.edge.errors import EdgeProblem
from kiosk.edge.models import Credential
from kiosk.flow.screens import ScreenName


@dataclass(frozen=True)
class Begin:
    """A citizen started identifying (a card went in): any earlier citizen's session ends."""

    screen: ScreenName  # what to show meanwhile ("reading: do not pull the card")


@dataclass(frozen=True)
class Identified:
    """The citizen is known well enough to ask the edge: open the session.

    `token`: what the token in hand proves for actions that need no session, kept while it is
    present (a lost card's reversal sends the card's identity; the session only `credential`).
    """

    credential: Credential = field(repr=False)
    token: Credential | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Failed:
    """Identifying failed. `outlives_token`: the token may already be gone, keep the advice."""

    message: str
    outlives_token: bool = False
    # The token cannot be used here at all (a third-generation card without a PSAM): the
    # notice offers the other ways of identifying this terminal has (QR, ID card).
    offer_other_ways: bool = False


@dataclass(frozen=True)
class Withdrawn:
    """The token the session depends on left (the card was pulled): the session ends.

    `mid_read_message` is shown when it left before identifying finished.
    """

    mid_read_message: str | None = None


@dataclass(frozen=True)
class Availability:
    """The method's device came or went; without it, a session that depends on it ends."""

    available: bool


Intent = Begin | Identified | Failed | Withdrawn | Availability


class IdentifyMethod(Protocol):
    """One way of identifying. `key` is also the edge's `method` ("card", "qr", "face", ...).

    `holds_presence`: the session lasts only while the method's token is present (a card in
    its slot); such a method sends Begin before Identified and Withdrawn when the token leaves.
    Others (a QR scan, a face, a staff-typed ID number) may send Identified alone.
    """

    @property
    def key(self) -> str: ...

    @property
    def holds_presence(self) -> bool: ...

    def interpret(self, event: object) -> Intent | None:
        """The intent `event` means for this method, or None when it is not this method's."""
        ...

    def message_for_problem(self, problem: EdgeProblem) -> str | None:
        """The method's own words for the edge refusing its credential (a QR token used
        twice), or None for the general ones (kiosk.flow.messages)."""
        ...
