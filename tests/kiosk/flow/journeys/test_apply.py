"""The apply journey through the real core: list → form on the keypad → pre-check → confirm →
receipt, with the same Idempotency-Key on every retry of one confirmation."""

from __future__ import annotations

import pytest

from kiosk.edge import errors as codes
from kiosk.edge.errors import EdgeProblem, EdgeUnreachable
from kiosk.edge.models import ReceiptState
from kiosk.flow import Action, Msg, ScreenName, Tap, Tone
from kiosk.flow.journeys.apply import Prechecked, SubsidyChoice
from kiosk.flow.journeys.steps import DOT, Confirmation, Keypad, Receipted
from tests.kiosk.fakes import ScriptedEdge, sample_precheck, sample_receipt
from tests.kiosk.flow.test_core import Kiosk

PHONE = "13800000000"


def _type(kiosk: Kiosk, text: str) -> None:
    for char in text:
        kiosk.flow.handle(Tap(Action.KEY, value=char))


def _at_list(kiosk: Kiosk) -> None:
    kiosk.at_home()
    kiosk.flow.handle(Tap(Action.START_JOURNEY, "apply"))
    assert kiosk.screen is ScreenName.LOADING
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.SUBSIDIES


def _keypad(kiosk: Kiosk) -> Keypad:
    content = kiosk.view.content
    assert kiosk.screen is ScreenName.KEYPAD and content is not None
    assert isinstance(content.data, Keypad)
    return content.data


def _at_confirm(kiosk: Kiosk) -> None:
    _at_list(kiosk)
    kiosk.flow.handle(Tap(Action.CHOOSE, value="0"))
    _type(kiosk, PHONE)
    kiosk.tap(Action.NEXT)
    _type(kiosk, "1234")
    kiosk.tap(Action.NEXT)
    kiosk.tasks.run_all()  # the pre-check
    assert kiosk.screen is ScreenName.PRECHECK
    kiosk.tap(Action.NEXT)
    assert kiosk.screen is ScreenName.CONFIRM


@pytest.fixture
def kiosk() -> Kiosk:
    return Kiosk()


def test_the_list_shows_eligibility_and_only_eligible_ones_can_be_picked(kiosk: Kiosk) -> None:
    _at_list(kiosk)
    content = kiosk.view.content
    assert content is not None and isinstance(content.data, SubsidyChoice)
    rows = content.data.rows
    assert [(i, item.code, item.eligible) for i, item in rows] == [
        (0, "skill-upgrade", True), (1, "unemployment", False), (2, "job-seeking", True)]
    assert kiosk.edge.subsidies_calls == ["ses_0001"]
    kiosk.flow.handle(Tap(Action.CHOOSE, value="1"))  # not eligible: nothing happens
    assert kiosk.screen is ScreenName.SUBSIDIES
    kiosk.flow.handle(Tap(Action.CHOOSE, value="9"))  # no such row
    assert kiosk.screen is ScreenName.SUBSIDIES
    kiosk.tap(Action.BACK)
    assert kiosk.screen is ScreenName.HOME and kiosk.view.content is None


def test_the_form_is_typed_on_the_keypad_and_checked_before_going_on(kiosk: Kiosk) -> None:
    _at_list(kiosk)
    kiosk.flow.handle(Tap(Action.CHOOSE, value="0"))
    pad = _keypad(kiosk)
    assert (pad.label, pad.kind, pad.step, pad.steps, pad.max_length) == (
        "field.phone", "phone", 1, 2, 11)
    assert "X" not in pad.keys
    _type(kiosk, "2380000000")
    kiosk.flow.handle(Tap(Action.KEY, value="X"))  # no X in a phone number
    _type(kiosk, "05")  # the 12th digit is refused: 11 at most
    assert _keypad(kiosk).shown == "23800000000"
    kiosk.tap(Action.NEXT)
    assert _keypad(kiosk).error == "keypad.error.phone.prefix"  # phones start with 1
    for _ in range(11):
        kiosk.tap(Action.ERASE)
    _type(kiosk, PHONE)
    assert _keypad(kiosk).error is None and _keypad(kiosk).ready
    kiosk.tap(Action.NEXT)
    pad = _keypad(kiosk)
    assert (pad.label, pad.step, pad.shown) == ("field.certificate_number", 2, "")
    kiosk.tap(Action.NEXT)
    assert _keypad(kiosk).error == "keypad.error.digits.length"  # empty
    kiosk.tap(Action.BACK)
    assert _keypad(kiosk).shown == PHONE  # back to the phone, as typed
    kiosk.tap(Action.NEXT)
    _type(kiosk, "1234")
    kiosk.tap(Action.NEXT)
    assert kiosk.screen is ScreenName.LOADING
    kiosk.tasks.run_all()

    ((session_id, draft),) = kiosk.edge.precheck_calls
    assert session_id == "ses_0001"
    assert draft.body() == {"subsidy": "skill-upgrade", "period": "2026",
                            "form": {"phone": PHONE, "certificate_number": "1234"}}
    assert PHONE not in repr(draft) and PHONE not in repr(kiosk.view)
    content = kiosk.view.content
    assert content is not None and isinstance(content.data, Prechecked)
    assert content.data.may_continue


def test_a_failed_precheck_is_shown_and_cannot_be_confirmed(kiosk: Kiosk) -> None:
    kiosk.edge.precheck_script = [sample_precheck(ok=False)]
    _at_list(kiosk)
    kiosk.flow.handle(Tap(Action.CHOOSE, value="2"))  # no form fields: straight to the check
    kiosk.tasks.run_all()
    content = kiosk.view.content
    assert kiosk.screen is ScreenName.PRECHECK and content is not None
    assert isinstance(content.data, Prechecked) and not content.data.may_continue
    assert [f.code for f in content.data.result.findings] == ["duplicate-claim"]
    kiosk.tap(Action.NEXT)
    assert kiosk.screen is ScreenName.PRECHECK  # refused by a check that ran
    kiosk.tap(Action.DONE)
    assert kiosk.screen is ScreenName.HOME


def test_a_precheck_that_could_not_run_lets_the_citizen_apply(kiosk: Kiosk) -> None:
    kiosk.edge.precheck_script = [sample_precheck(ok=False, checked=False)]
    _at_confirm(kiosk)
    content = kiosk.view.content
    assert content is not None and isinstance(content.data, Confirmation)
    rows = {row.label: row.value for row in content.data.rows}
    assert rows["apply.row.subsidy"] == "职业技能提升补贴"
    assert rows["field.phone"] == "1380****0000"  # masked for passers-by


def test_confirming_submits_once_and_shows_the_receipt(kiosk: Kiosk) -> None:
    _at_confirm(kiosk)
    kiosk.tap(Action.CONFIRM)
    assert kiosk.screen is ScreenName.SUBMITTING
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.RECEIPT
    content = kiosk.view.content
    assert content is not None and isinstance(content.data, Receipted)
    assert content.data.receipt.state is ReceiptState.SENT
    assert content.data.subject == "职业技能提升补贴"
    ((_, draft, _key),) = kiosk.edge.apply_calls
    assert draft.form["phone"] == PHONE
    # Sent: what was typed is no longer held by the kiosk.
    steps = kiosk.flow._active.steps  # type: ignore[union-attr]
    assert all(entry.value == "" for entry in steps._fields)
    kiosk.tap(Action.DONE)
    assert kiosk.screen is ScreenName.HOME


def test_a_retried_submission_keeps_its_key_also_after_going_back(kiosk: Kiosk) -> None:
    kiosk.edge.apply_script = [EdgeUnreachable("down"), EdgeUnreachable("down"),
                               sample_receipt("queued")]
    _at_confirm(kiosk)
    kiosk.tap(Action.CONFIRM)
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.MESSAGE and kiosk.view.notice is not None
    assert kiosk.view.notice.retrying and Action.BACK in kiosk.view.notice.actions
    kiosk.tap(Action.BACK)  # the citizen gives up waiting ...
    assert kiosk.screen is ScreenName.CONFIRM
    kiosk.tap(Action.CONFIRM)  # ... and confirms again
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.MESSAGE
    kiosk.clock.advance(2)
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.RECEIPT
    keys = {key for _, _, key in kiosk.edge.apply_calls}
    assert len(kiosk.edge.apply_calls) == 3 and len(keys) == 1
    content = kiosk.view.content
    assert content is not None and isinstance(content.data, Receipted)
    assert content.data.receipt.state is ReceiptState.QUEUED


def test_going_back_from_the_confirmation_makes_a_new_key(kiosk: Kiosk) -> None:
    _at_confirm(kiosk)
    steps = kiosk.flow._active.steps  # type: ignore[union-attr]
    first = steps._submit.key
    kiosk.tap(Action.BACK)  # the citizen may now change the form: another body, another key
    assert kiosk.screen is ScreenName.PRECHECK and steps._submit is None
    kiosk.tap(Action.NEXT)
    kiosk.tap(Action.CONFIRM)
    kiosk.tasks.run_all()
    ((_, _, key),) = kiosk.edge.apply_calls
    assert key != first and kiosk.screen is ScreenName.RECEIPT


@pytest.mark.parametrize(("problem", "message"), [
    (EdgeProblem(codes.DUPLICATE_APPLICATION, 409), Msg.DUPLICATE_APPLICATION),
    (EdgeProblem(codes.OUTBOX_FULL, 503, retry_after_s=60), Msg.OUTBOX_FULL),
    (EdgeProblem(codes.VALIDATION_ERROR, 422), Msg.FORM_REFUSED),
])
def test_refusals_are_said_plainly_and_back_returns_to_the_confirmation(
        problem: EdgeProblem, message: Msg) -> None:
    kiosk = Kiosk(ScriptedEdge(apply_script=[problem]))
    _at_confirm(kiosk)
    kiosk.tap(Action.CONFIRM)
    kiosk.tasks.run_all()
    notice = kiosk.view.notice
    assert kiosk.screen is ScreenName.MESSAGE and notice is not None
    assert (notice.key, notice.tone, notice.retrying) == (message, Tone.PROBLEM, False)
    assert kiosk.clock.pending() == [60.0]  # only the idle timer: no automatic retry
    kiosk.tap(Action.BACK)
    assert kiosk.screen is ScreenName.CONFIRM


def test_too_many_requests_is_retried_after_retry_after(kiosk: Kiosk) -> None:
    kiosk.edge.apply_script = [EdgeProblem(codes.TOO_MANY_REQUESTS, 429, retry_after_s=7),
                               sample_receipt()]
    _at_confirm(kiosk)
    kiosk.tap(Action.CONFIRM)
    kiosk.tasks.run_all()
    assert kiosk.view.notice is not None and kiosk.view.notice.key == Msg.SERVICE_BUSY
    kiosk.clock.advance(7)
    kiosk.tasks.run_all()
    assert kiosk.screen is ScreenName.RECEIPT


def test_a_refused_receipt_is_a_receipt_too(kiosk: Kiosk) -> None:
    kiosk.edge.apply_script = [sample_receipt(
        "refused", refusal_code="risk-refused", refusal_message="不在补贴要求的户籍范围内",
        findings=[{"code": "household", "message": "不在补贴要求的户籍范围内"}])]
    _at_confirm(kiosk)
    kiosk.tap(Action.CONFIRM)
    kiosk.tasks.run_all()
    content = kiosk.view.content
    assert content is not None and isinstance(content.data, Receipted)
    assert content.data.receipt.state is ReceiptState.REFUSED


def test_pulling_the_card_mid_journey_wipes_it_and_drops_the_late_answer(kiosk: Kiosk) -> None:
    _at_confirm(kiosk)
    kiosk.tap(Action.CONFIRM)
    steps = kiosk.flow._active.steps  # type: ignore[union-attr]
    kiosk.reader.remove()
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.flow._active is None
    assert all(entry.value == "" for entry in steps._fields) or steps._fields == []
    kiosk.tasks.run_all()  # the submission's answer arrives after the citizen left
    assert kiosk.screen is ScreenName.ATTRACT and kiosk.view.content is None


def test_no_digit_typed_reaches_a_repr(kiosk: Kiosk) -> None:
    _at_list(kiosk)
    kiosk.flow.handle(Tap(Action.CHOOSE, value="0"))
    _type(kiosk, PHONE)
    text = repr(kiosk.view) + repr(kiosk.flow._active) + repr(Tap(Action.KEY, value="7"))
    assert PHONE not in text and "'7'" not in text and DOT not in text
