"""The card method: reader events become intents; only the fields the edge uses are sent."""

from __future__ import annotations

import pytest

from drivers.base import Health, HealthChanged, HealthState
from drivers.card.interface import (
    CardFailure,
    CardInserted,
    CardRead,
    CardReadFailed,
    CardRemoved,
)
from edge_server.schemas import CardIdentity
from kiosk.flow.identify import METHODS
from kiosk.flow.identify.base import Availability, Begin, Failed, Identified, Withdrawn
from kiosk.flow.identify.card import CARD_FIELDS_SENT, CardMethod, CardMsg, card_credential
from kiosk.flow.screens import ScreenName
from tests.kiosk.fakes import sample_card

CARD = CardMethod()


def test_the_card_credential_holds_exactly_the_fields_the_edge_uses() -> None:
    credential = card_credential(sample_card())
    assert credential.method == "card"
    assert dict(credential.fields) == {"citizen_id": "11010519491231002X",
                                       "card_number": "A12345678"}
    assert credential.body() == {"method": "card", "card": dict(credential.fields)}
    # Nothing personal in its repr (it rides in effects and pending requests).
    assert "1101" not in repr(credential) and "A123" not in repr(credential)


def test_the_fields_sent_are_the_ones_the_edge_requires() -> None:
    # edge_server/services/sessions.py reads citizen_id and card_number; the schema requires
    # them. If the edge starts requiring another field, this fails before a citizen does.
    required = {name for name, f in CardIdentity.model_fields.items() if f.is_required()}
    assert set(CARD_FIELDS_SENT) == required


def test_reader_events_become_intents() -> None:
    card = sample_card()
    assert CARD.interpret(CardInserted(reader="r", atr="3B")) == Begin(ScreenName.READING)
    identified = CARD.interpret(CardRead(reader="r", data=card))
    assert isinstance(identified, Identified)
    assert identified.credential.fields == card_credential(card).fields
    assert CARD.interpret(CardRemoved(reader="r")) == Withdrawn(CardMsg.REMOVED_MID_READ)
    missing = Health(HealthState.MISSING, "reader-missing", "gone")
    assert CARD.interpret(HealthChanged(kind="card_reader", health=missing)) == Availability(False)
    assert CARD.interpret(object()) is None


@pytest.mark.parametrize("failure", list(CardFailure))
def test_every_failure_is_a_message(failure: CardFailure) -> None:
    intent = CARD.interpret(CardReadFailed(reader="r", failure=failure))
    assert isinstance(intent, Failed) and intent.message.startswith("msg.")
    assert intent.outlives_token == (failure in (CardFailure.REMOVED,
                                                 CardFailure.READER_UNAVAILABLE))


def test_a_locked_card_says_so() -> None:
    intent = CARD.interpret(CardReadFailed(reader="r", failure=CardFailure.LOCKED))
    assert isinstance(intent, Failed) and intent.message == CardMsg.LOCKED


def test_the_card_is_registered() -> None:
    assert [m.key for m in METHODS] == ["card", "qr", "idcard"]  # the card first
