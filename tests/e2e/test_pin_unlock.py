"""A locked card PIN unlocked at the kiosk by a staff member, through every real seam: the
virtual card in pcscd + vpcd, the kiosk process (offscreen) and its card driver, the edge, and
the central simulator's key centre, which alone can sign the card's RELOAD PIN.

Three wrong PINs lock the card; a wrong staff code is refused in plain words with the PIN still
locked; the right one, with the holder's new PIN typed twice, unlocks it; the new PIN is then
the card's (a PIN change with it as the old PIN succeeds). Audited at the edge with the staff
ID and the masked card, never the staff code.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.demo.kiosk_steps import (
    STAFF_CODE,
    STAFF_ID,  # the central simulator's digit-only staff member
    change_pin,
    shows,
    staff_unlock,
)
from simulators.stack.stack import Stack

pytestmark = pytest.mark.e2e

NEW_PIN = "802461"


def _card_in_slot(stack: Stack) -> dict[str, Any]:
    status = httpx.get(f"{stack.card().base_url}/status", timeout=10).json()
    card = status["slots"][0]["card"]
    assert card is not None, status
    return card


def _audit(stack: Stack) -> list[tuple[str, str, str]]:
    db = Path(stack.edge.spec.env["EDGE_DATABASE_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT device_id, masked_id, outcome FROM audit_log "
                                 "WHERE action = 'card.pin-authorisation' ORDER BY seq"))


def test_a_staff_member_unlocks_a_locked_pin_and_the_new_pin_is_the_cards(at_rest):
    stack = at_rest
    kiosk, central = stack.kiosk_client(), stack.central_client()
    holder = next(c for c in central.citizens(offset=40, limit=100, card_status="normal")
                  if c["card"]["generation"] == 2)
    stack.card().insert(citizen_index=int(holder["index"]))
    kiosk.wait_screen("home", timeout=30)
    before = _card_in_slot(stack)
    assert (before["pin_tries"], before["pin_locked"]) == (3, False)

    # Three wrong PINs (the card counts them: CHANGE PIN with a wrong old PIN) lock it.
    kiosk.tap("home.pin-change")
    kiosk.wait_screen("pin", timeout=30)
    for tries_left in (2, 1):
        change_pin(kiosk, "000000", NEW_PIN)
        shows(kiosk, f"还可以再试 {tries_left} 次")
    change_pin(kiosk, "000000", NEW_PIN)
    shows(kiosk, "社保卡密码已被锁定")
    assert _card_in_slot(stack)["pin_locked"] is True
    kiosk.screenshot("e2e-pin-locked-offer")

    # A wrong staff code: refused by central's key centre, the PIN still locked.
    staff_unlock(kiosk, "246800", NEW_PIN)
    refused = shows(kiosk, "工作人员工号或密码不对")
    assert "仍然锁定" in refused
    assert _card_in_slot(stack)["pin_locked"] is True
    kiosk.tap("pin.done")
    shows(kiosk, "社保卡密码已被锁定")  # back to the locked PIN, the offer still there

    # The right code: the card takes the issuer's MAC and the holder's new PIN.
    staff_unlock(kiosk, STAFF_CODE, NEW_PIN)
    shows(kiosk, "密码已解锁")
    after = _card_in_slot(stack)
    assert (after["pin_tries"], after["pin_locked"]) == (3, False)
    kiosk.screenshot("e2e-pin-unlocked")
    kiosk.tap("pin.done")
    kiosk.wait_screen("home", timeout=30)

    # The new PIN is the card's: a change with it as the old PIN succeeds.
    kiosk.tap("home.pin-change")
    kiosk.wait_screen("pin", timeout=30)
    change_pin(kiosk, NEW_PIN, "913572")
    shows(kiosk, "密码已修改")
    kiosk.tap("pin.done")
    kiosk.wait_screen("home", timeout=30)

    rows = _audit(stack)
    outcomes = [outcome for _device, _masked, outcome in rows[-2:]]
    assert outcomes == [f"reload staff-refused {STAFF_ID}", f"reload authorised {STAFF_ID}"]
    assert all(device == stack.options.device_id for device, _m, _o in rows[-2:])
    text = str(rows)
    assert STAFF_CODE not in text and "246800" not in text
    stack.card().remove()
    kiosk.wait_screen("attract", timeout=40)
