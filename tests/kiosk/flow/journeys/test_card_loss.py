"""The card loss report: from the attract screen, without a card or a session."""

from __future__ import annotations

import pytest

from kiosk.edge.models import ReceiptState
from kiosk.flow import Action, ScreenName, Tap
from kiosk.flow.journeys.steps import DOT, Confirmation, Keypad, Receipted
from tests.kiosk.fakes import ScriptedEdge, sample_card, sample_receipt
from tests.kiosk.flow.test_core import Kiosk

CITIZEN_ID = "11010519491231002X"
PIN = "135790"


def _type(kiosk: Kiosk, text: str) -> None:
    for char in text:
        kiosk.flow.handle(Tap(Action.KEY, value=char))


def _keypad(kiosk: Kiosk) -> Keypad:
    content = kiosk.view.content
    assert kiosk.screen is ScreenName.KEYPAD and content is not None
    assert isinstance(content.data, Keypad)
    return content.data


def _at_confirm(kiosk: Kiosk) -> None:
    assert kiosk.view.walk_up == ("card-loss",)
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss"))
    _type(kiosk, CITIZEN_ID)
    kiosk.tap(Action.NEXT)
    _type(kiosk, PIN)
    kiosk.tap(Action.NEXT)
    assert kiosk.screen is ScreenName.CONFIRM


@pytest.fixture
def kiosk() -> Kiosk:
    return Kiosk()


def test_it_is_offered_on_the_attract_screen_only_without_a_card(kiosk: Kiosk) -> None:
    assert kiosk.view.walk_up == ("card-loss",) and not kiosk.view.session_active
    kiosk.at_home()
    assert kiosk.view.walk_up == () and "card-loss" not in kiosk.view.journeys
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss"))
    assert kiosk.screen is ScreenName.HOME


def test_the_id_number_takes_x_last_and_its_check_character_is_verified(kiosk: Kiosk) -> None:
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss"))
    pad = _keypad(kiosk)
    assert (pad.label, pad.kind, pad.max_length, pad.step, pad.steps) == (
        "field.citizen_id", "citizen-id", 18, 1, 2)
    assert "X" in pad.keys
    kiosk.flow.handle(Tap(Action.KEY, value="X"))  # not as the first character
    assert _keypad(kiosk).shown == ""
    _type(kiosk, "110105194912310021")  # a wrong check character
    kiosk.tap(Action.NEXT)
    assert _keypad(kiosk).error == "keypad.error.citizen-id.check"
    kiosk.tap(Action.ERASE)
    kiosk.flow.handle(Tap(Action.KEY, value="X"))
    assert _keypad(kiosk).shown == CITIZEN_ID and _keypad(kiosk).error is None
    kiosk.tap(Action.NEXT)
    pad = _keypad(kiosk)
    assert (pad.label, pad.kind, pad.step) == ("field.pin", "pin", 2)


def test_the_pin_shows_as_dots_and_is_never_in_a_repr(kiosk: Kiosk) -> None:
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss"))
    _type(kiosk, CITIZEN_ID)
    kiosk.tap(Action.NEXT)
    _type(kiosk, "1357")
    pad = _keypad(kiosk)
    assert pad.shown == DOT * 4 and not pad.ready
    text = repr(kiosk.view) + repr(kiosk.flow._active) + repr(pad)
    assert "1357" not in text and CITIZEN_ID not in text


def test_confirming_reports_the_loss_and_wipes_what_was_typed(kiosk: Kiosk) -> None:
    _at_confirm(kiosk)
    content = kiosk.view.content
    assert content is not None and isinstance(content.data, Confirmation)
    assert content.data.warning == "card-loss.confirm.warning"
    assert content.data.rows[0].value == "110105********002X"
    kiosk.tap(Action.CONFIRM)
    assert kiosk.screen is ScreenName.SUBMITTING
    kiosk.tasks.run_all()
    ((citizen_id, pin, key),) = kiosk.edge.card_loss_calls
    assert (citizen_id, pin) == (CITIZEN_ID, PIN) and key
    content = kiosk.view.content
    assert kiosk.screen is ScreenName.RECEIPT and content is not None
    assert isinstance(content.data, Receipted)
    steps = kiosk.flow._active.steps  # type: ignore[union-attr]
    assert [entry.value for entry in steps._fields] == ["", ""] and steps._submit is None
    kiosk.tap(Action.DONE)
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.flow._active is None
    assert kiosk.clock.pending() == []  # no idle timer left running without anyone


def test_a_wrong_pin_comes_back_as_a_refused_receipt() -> None:
    kiosk = Kiosk(ScriptedEdge(card_loss_script=[sample_receipt(
        "refused", kind="card-loss-report", refusal_code="pin-wrong",
        refusal_message="服务密码不正确")]))
    _at_confirm(kiosk)
    kiosk.tap(Action.CONFIRM)
    kiosk.tasks.run_all()
    content = kiosk.view.content
    assert content is not None and isinstance(content.data, Receipted)
    assert content.data.receipt.state is ReceiptState.REFUSED
    assert content.data.receipt.refusal_code == "pin-wrong"


def test_walking_away_ends_it_through_the_idle_timeout(kiosk: Kiosk) -> None:
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss"))
    _type(kiosk, "110105")
    kiosk.clock.advance(60)
    assert kiosk.view.idle_seconds_left == 30
    kiosk.clock.advance(30)
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.flow._active is None


def test_a_stray_removal_does_not_end_it_but_a_card_does(kiosk: Kiosk) -> None:
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss"))
    _type(kiosk, "110105")
    kiosk.reader.remove()  # nothing was inserted: no concern of this journey
    assert _keypad(kiosk).shown == "110105"
    kiosk.reader.insert(sample_card())  # somebody with a card: they come first
    assert kiosk.flow._active is None
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.HOME


def test_back_from_the_first_field_and_end_both_return_to_attract(kiosk: Kiosk) -> None:
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss"))
    kiosk.tap(Action.BACK)
    assert kiosk.screen is ScreenName.ATTRACT
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "card-loss"))
    kiosk.tap(Action.END)
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.flow._active is None
