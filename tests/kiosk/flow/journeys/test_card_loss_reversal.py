"""Reversing a loss report with the card in hand: offered on the card-lost notice only."""

from __future__ import annotations

from kiosk.edge import errors as codes
from kiosk.edge.errors import EdgeProblem
from kiosk.edge.models import ReceiptState
from kiosk.flow import Action, Msg, ScreenName, Tap
from kiosk.flow.journeys.steps import DOT, Confirmation, Keypad, Receipted
from tests.kiosk.fakes import ScriptedEdge, sample_card
from tests.kiosk.flow.test_core import Kiosk

PIN = "135790"


def _lost(status: str = "reported-lost") -> Kiosk:
    kiosk = Kiosk(ScriptedEdge(open_script=[
        EdgeProblem(codes.CARD_NOT_VALID, 403, extra={"card_status": status})]))
    kiosk.reader.insert(sample_card())
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.MESSAGE
    return kiosk


def test_the_card_lost_notice_offers_the_reversal_and_it_sends_the_card_and_pin() -> None:
    kiosk = _lost()
    notice = kiosk.view.notice
    assert notice is not None and notice.key == Msg.CARD_LOST
    assert notice.journey == "card-loss-reversal"
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss-reversal"))
    content = kiosk.view.content
    assert kiosk.screen is ScreenName.KEYPAD and content is not None
    assert isinstance(content.data, Keypad) and content.data.label == "field.pin"
    for char in PIN:
        kiosk.flow.handle(Tap(Action.KEY, value=char))
    assert kiosk.view.content.data.shown == DOT * 6  # type: ignore[union-attr]
    kiosk.tap(Action.NEXT)
    assert kiosk.screen is ScreenName.CONFIRM
    confirmation = kiosk.view.content.data  # type: ignore[union-attr]
    assert isinstance(confirmation, Confirmation)
    # The citizen sees which card is unblocked, masked as everywhere on screen.
    assert [(r.label, r.value) for r in confirmation.rows] == [
        ("field.citizen_id", "110105********002X")]
    kiosk.tap(Action.CONFIRM)
    kiosk.tasks.run_all()
    ((card, pin, key),) = kiosk.edge.reversal_calls
    assert pin == PIN and key
    # The card's identity, with the chip's code central checks; still not the name.
    assert card.fields == {"citizen_id": "11010519491231002X", "card_number": "A12345678",
                           "card_id_code": "110105D156000005000000000000A1B2"}
    content = kiosk.view.content
    assert kiosk.screen is ScreenName.RECEIPT and content is not None
    assert isinstance(content.data, Receipted)
    assert content.data.receipt.state is ReceiptState.SENT
    assert not kiosk.view.session_active
    kiosk.tap(Action.DONE)
    assert kiosk.screen is ScreenName.ENDING  # the card is still in: take it
    kiosk.reader.remove()
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.flow._active is None


def test_other_refusals_offer_nothing_and_the_offer_needs_the_card_in_hand() -> None:
    cancelled = _lost("cancelled")
    assert cancelled.view.notice is not None and cancelled.view.notice.journey is None
    cancelled.flow.handle(Tap(Action.START_JOURNEY, "card-loss-reversal"))
    assert cancelled.screen is ScreenName.MESSAGE

    kiosk = _lost()
    kiosk.reader.remove()  # the card left: what it proved is gone with it
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss-reversal"))
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.flow._active is None


def test_pulling_the_card_mid_reversal_ends_it() -> None:
    kiosk = _lost()
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss-reversal"))
    kiosk.flow.handle(Tap(Action.KEY, value="1"))
    steps = kiosk.flow._active.steps  # type: ignore[union-attr]
    kiosk.reader.remove()
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.flow._active is None
    assert steps._pin.value == "" and steps._card is None
