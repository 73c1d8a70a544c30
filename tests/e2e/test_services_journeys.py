"""The citizen services through every real seam: card → pcscd → kiosk (offscreen) → edge
(outbox) → central simulator, driven by the kiosk's own screens.

Apply while central is up (receipt "sent"), apply while it is down (receipt "queued"), then
the applications list shows it once central is back and the outbox has drained; and a card
loss report from the attract screen, without the card: a wrong PIN is refused in plain words,
the right one blocks the card, which then opens no session until the card and its PIN reverse
the report.
"""

from __future__ import annotations

from typing import Any

import pytest

from simulators.demo.journey import application_for
from simulators.demo.kiosk_steps import (
    confirm_to_receipt,
    fill_application,
    report_loss,
    reverse_loss,
    screen_text,
)
from simulators.stack.stack import Stack
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.e2e



def _applicants(stack: Stack, count: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(citizen, application body) of citizens with a generation-2 card who may apply."""
    central = stack.central_client()
    found = []
    for summary in central.citizens(offset=200, limit=200, card_status="normal"):
        if summary["card"]["generation"] != 2:
            continue
        citizen = central.citizen(int(summary["index"]))
        body = application_for(central, citizen)
        if body is not None:
            found.append((citizen, body))
        if len(found) == count:
            return found
    raise LookupError(f"fewer than {count} applicants in the population's sample")


@pytest.fixture(scope="module")
def applicants(stack: Stack) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return _applicants(stack, 2)


def _recorded(stack: Stack, kind: str) -> int:
    return len(stack.central_client().submissions(kind=kind, limit=500))


def test_apply_while_central_is_up_and_while_it_is_down_then_follow_it(at_rest, applicants):
    stack = at_rest
    kiosk, central, edge = stack.kiosk_client(), stack.central_client(), stack.edge_client()
    (first, first_body), (second, second_body) = applicants
    recorded_before = _recorded(stack, "subsidy-application")

    # Central up: the pre-check passes and the receipt says "sent".
    fill_application(stack, first, first_body)
    kiosk.tap("keypad.next")
    kiosk.wait_screen("precheck")
    assert "预审通过" in screen_text(kiosk)
    sent_no = confirm_to_receipt(kiosk)
    texts = screen_text(kiosk)
    assert "申请已提交" in texts and "申请编号：SQ" in texts
    assert _recorded(stack, "subsidy-application") == recorded_before + 1
    kiosk.screenshot("e2e-receipt-sent")
    kiosk.tap("receipt.done")
    kiosk.wait_screen("home")
    stack.card().remove()
    kiosk.wait_screen("attract")

    # Central down after the form is filled: "could not check now", then "queued".
    name = fill_application(stack, second, second_body)
    central.set_faults(outage=True)
    try:
        kiosk.tap("keypad.next")
        kiosk.wait_screen("precheck", timeout=30)
        assert "现在无法预审" in screen_text(kiosk)
        queued_no = confirm_to_receipt(kiosk)
        assert "申请已受理，等待发送" in screen_text(kiosk) and queued_no != sent_no
        assert edge.get(f"/submissions/{queued_no}")["state"] == "queued"
        assert _recorded(stack, "subsidy-application") == recorded_before + 1
        kiosk.screenshot("e2e-receipt-queued")
    finally:
        central.set_faults(outage=False)

    # Central back: the outbox drains, and the applications list shows it.
    wait_for(lambda: edge.get(f"/submissions/{queued_no}")["state"] == "sent",
             "the queued application to reach central", timeout=60)
    assert _recorded(stack, "subsidy-application") == recorded_before + 2
    kiosk.tap("receipt.done")
    kiosk.wait_screen("home")
    kiosk.tap("home.applications")
    kiosk.wait_screen("applications", timeout=30)
    texts = screen_text(kiosk)
    assert name in texts and "等待发送到社保中心的申请" not in texts
    kiosk.tap("applications.item-0")  # newest first: the one just sent
    kiosk.wait_screen("application")
    history = screen_text(kiosk)
    assert name in history and "已提交" in history
    kiosk.tap("application.back")
    kiosk.wait_screen("applications")


def test_a_lost_card_is_reported_without_it_opens_no_session_and_is_found_again(at_rest):
    stack = at_rest
    kiosk, central = stack.kiosk_client(), stack.central_client()
    summary = next(c for c in central.citizens(offset=600, limit=100, card_status="normal")
                   if c["card"]["generation"] == 2)
    citizen = central.citizen(int(summary["index"]))
    pin = citizen["service_pin"]
    wrong = f"{(int(pin[0]) + 1) % 10}{pin[1:]}"

    # report_loss also checks the PIN is typed as dots and the warning is on the confirm.
    refused = report_loss(kiosk, citizen["citizen_id"], wrong)
    assert "挂失没有办成" in refused and "服务密码不正确" in refused
    kiosk.tap("receipt.done")

    reported = report_loss(kiosk, citizen["citizen_id"], pin)
    assert "挂失已办理" in reported, reported
    kiosk.screenshot("e2e-card-loss-receipt")
    kiosk.tap("receipt.done")
    kiosk.wait_screen("attract")
    assert central.citizen(int(citizen["index"]))["card"]["status"] == "reported-lost"

    stack.card().insert(citizen_index=int(citizen["index"]))
    kiosk.wait_screen("message")
    assert "这张社保卡已挂失" in screen_text(kiosk)
    assert kiosk.status()["session_active"] is False

    # Found again: the card in hand and its PIN reverse the report (解挂) ...
    reversed_ = reverse_loss(kiosk, pin)
    assert "已解除挂失" in reversed_, reversed_
    kiosk.tap("receipt.done")
    kiosk.wait_screen("ending")
    stack.card().remove()
    kiosk.wait_screen("attract")
    assert central.citizen(int(citizen["index"]))["card"]["status"] == "normal"
    # ... and it opens a session again.
    stack.card().insert(citizen_index=int(citizen["index"]))
    kiosk.wait_screen("home", timeout=30)
