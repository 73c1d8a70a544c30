"""Identifying with the social security card (社保卡), the method the edge supports today.

The card reader's events become intents; of everything the card holds, only the two fields the
edge uses go into the credential (edge_server/services/sessions.py reads the citizen ID and
the card number; the name, card id code and spec version stay on the terminal).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from drivers.base import HealthChanged, HealthState
from drivers.card.interface import (
    CardData,
    CardFailure,
    CardInserted,
    CardRead,
    CardReadFailed,
    CardRemoved,
)
from kiosk.edge.errors import EdgeProblem
from kiosk.edge.models import Credential
from kiosk.flow.identify.base import (
    Availability,
    Begin,
    Failed,
    Identified,
    Intent,
    Withdrawn,
)
from kiosk.flow.screens import ScreenName

# The card fields the edge reads (data minimisation; tests/kiosk/flow/identify/test_card.py).
CARD_FIELDS_SENT = ("citizen_id", "card_number")
# What a loss reversal (解挂) sends: the card in hand, proven by its chip's identification code.
CARD_IDENTITY_FIELDS = ("citizen_id", "card_number", "card_id_code")


class CardMsg(StrEnum):
    """What the citizen is told when reading the card fails (i18n `<key>.title`, `.body`)."""

    REMOVED_MID_READ = "msg.card.removed_mid_read"
    NEEDS_PSAM = "msg.card.needs_psam"
    NOT_SSC = "msg.card.not_ssc"
    LOCKED = "msg.card.locked"
    UNRESPONSIVE = "msg.card.unresponsive"
    UNREADABLE = "msg.card.unreadable"
    READER_UNAVAILABLE = "msg.card.reader_unavailable"


CARD_FAILURE_MESSAGES: dict[CardFailure, CardMsg] = {
    CardFailure.REMOVED: CardMsg.REMOVED_MID_READ,
    CardFailure.NEEDS_PSAM: CardMsg.NEEDS_PSAM,
    CardFailure.NOT_SSC: CardMsg.NOT_SSC,
    CardFailure.LOCKED: CardMsg.LOCKED,
    CardFailure.UNRESPONSIVE: CardMsg.UNRESPONSIVE,
    CardFailure.UNREADABLE: CardMsg.UNREADABLE,
    CardFailure.READER_UNAVAILABLE: CardMsg.READER_UNAVAILABLE,
}
# Read failures after which the card is (or may be) already out: the advice must stay visible.
_ADVICE_OUTLIVES_CARD = frozenset({CardFailure.REMOVED, CardFailure.READER_UNAVAILABLE})
# Read failures of a card this terminal can never use: offer the QR code and the ID card.
_OTHER_WAYS = frozenset({CardFailure.NEEDS_PSAM, CardFailure.NOT_SSC, CardFailure.LOCKED})


def message_for_failure(failure: CardFailure) -> CardMsg:
    return CARD_FAILURE_MESSAGES.get(failure, CardMsg.UNREADABLE)


def card_credential(card: CardData) -> Credential:
    return Credential("card", {name: getattr(card, name) for name in CARD_FIELDS_SENT})


def card_identity(card: CardData) -> Credential:
    return Credential("card", {name: getattr(card, name) for name in CARD_IDENTITY_FIELDS})


@dataclass(frozen=True)
class CardMethod:
    key: str = "card"
    holds_presence: bool = True

    def interpret(self, event: object) -> Intent | None:
        match event:
            case CardInserted():
                return Begin(ScreenName.READING)
            case CardRead(data=data):
                return Identified(card_credential(data), card_identity(data))
            case CardReadFailed(failure=failure):
                return Failed(message_for_failure(failure),
                              outlives_token=failure in _ADVICE_OUTLIVES_CARD,
                              offer_other_ways=failure in _OTHER_WAYS)
            case CardRemoved():
                return Withdrawn(mid_read_message=CardMsg.REMOVED_MID_READ)
            case HealthChanged(kind="card_reader" | "card", health=health):
                return Availability(health.state is not HealthState.MISSING)
            case _:
                return None

    def message_for_problem(self, problem: EdgeProblem) -> str | None:
        return None  # the card's refusals are the general ones (kiosk.flow.messages)
