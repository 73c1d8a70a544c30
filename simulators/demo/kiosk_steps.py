"""Steps a tester takes on the kiosk's screens, through its automation hooks only: type on the
keypad, fill in an application, confirm it, change or unlock a card PIN, report a lost card
and reverse the report. The demo's journey and the end-to-end tests both drive the kiosk with
these."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from simulators.card.applet import DEFAULT_PIN
from simulators.stack.clients import CameraSimClient, ControlError, KioskClient
from simulators.stack.services import CENTRAL_API_KEY
from simulators.stack.stack import Stack

T = TypeVar("T")

PER_PAGE = 4  # kiosk.flow.journeys.apply.PER_PAGE: subsidies a page on the kiosk
RECEIPT = re.compile(r"回执编号：(R\d{8}[0-9A-HJKMNP-TV-Z]{10})")
# The central simulator's staff member whose ID is digits only, as the kiosk's keypad types it
# (simulators/central/routes_keys.py STAFF): documented demo values, not secrets.
STAFF_ID, STAFF_CODE = "10001", "135790"
CARD_PIN = DEFAULT_PIN  # the virtual card's PIN unless the simulator is told another


def screen_text(kiosk: KioskClient) -> str:
    return "".join(kiosk.texts())


def until(probe: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll `probe` until it returns something truthy (bounded); ControlError after
    `timeout`. For state another process owns and nothing pushes (a screen's words, a record
    at central); a screen change has its own wait (KioskClient.wait_screen)."""
    deadline = time.monotonic() + timeout
    pace = threading.Event()  # never set: paces the poll
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        pace.wait(0.2)
    raise ControlError(f"timed out after {timeout:.0f}s waiting for {what}")


def shows(kiosk: KioskClient, words: str, timeout: float = 30.0) -> str:
    """Wait until the screen's texts contain `words`; returns them. The PIN screen changes its
    words, not its name, as the card answers."""
    def probe() -> str | None:
        text = screen_text(kiosk)
        return text if words in text else None

    try:
        return until(probe, f"the kiosk to show {words!r}", timeout=timeout)
    except ControlError as exc:
        raise ControlError(f"{exc}; it shows {screen_text(kiosk)!r}") from exc


def type_on_keypad(kiosk: KioskClient, value: str) -> None:
    for char in value:
        kiosk.tap(f"keypad.key-{char}")


def type_pin(kiosk: KioskClient, digits: str) -> None:
    """One PIN on the PIN screen's pad, then NEXT."""
    for char in digits:
        kiosk.tap(f"pin.key-{char}")
    kiosk.tap("pin.next")


def change_pin(kiosk: KioskClient, old: str, new: str) -> None:
    """The PIN change journey on the PIN screen (old, new, new again), up to the card's
    answer, which the caller waits for (`shows`)."""
    for digits in (old, new, new):
        type_pin(kiosk, digits)


def staff_unlock(kiosk: KioskClient, staff_code: str, new_pin: str,
                 staff_id: str = STAFF_ID) -> None:
    """From the locked PIN's offer: the staff member's ID and code, then the holder's new PIN
    twice, up to the key centre's answer, which the caller waits for (`shows`)."""
    kiosk.tap("pin.staff-unlock")
    kiosk.wait_screen("keypad")
    type_on_keypad(kiosk, staff_id)
    kiosk.tap("keypad.next")
    kiosk.wait_screen("pin")
    shows(kiosk, "请工作人员输入密码")
    for digits in (staff_code, new_pin, new_pin):
        type_pin(kiosk, digits)


def report_loss(kiosk: KioskClient, citizen_id: str, pin: str) -> str:
    """A loss report from the attract screen, without the card: ID number, service PIN,
    confirm; returns the receipt screen's text (sent, queued or refused)."""
    kiosk.wait_screen("attract")
    kiosk.tap("attract.card-loss")
    kiosk.wait_screen("keypad")
    type_on_keypad(kiosk, citizen_id)
    kiosk.tap("keypad.next")
    type_on_keypad(kiosk, pin)
    typed = screen_text(kiosk)
    if "●" * len(pin) not in typed or pin in typed:
        raise ControlError("the service PIN is not shown as dots while typed")
    kiosk.tap("keypad.next")
    kiosk.wait_screen("confirm")
    if "将被停用" not in screen_text(kiosk):
        raise ControlError(f"the loss report's confirmation has no warning: {kiosk.texts()}")
    kiosk.tap("confirm.confirm")
    kiosk.wait_screen("receipt", timeout=30)
    return screen_text(kiosk)


def reverse_loss(kiosk: KioskClient, pin: str) -> str:
    """From the "this card is reported lost" notice, the card in the slot: the service PIN,
    confirm; returns the receipt screen's text."""
    kiosk.tap("message.card-loss-reversal")
    kiosk.wait_screen("keypad")
    type_on_keypad(kiosk, pin)
    kiosk.tap("keypad.next")
    kiosk.wait_screen("confirm")
    kiosk.tap("confirm.confirm")
    kiosk.wait_screen("receipt", timeout=30)
    return screen_text(kiosk)


def fill_application(stack: Stack, citizen: dict[str, Any], body: dict[str, Any]) -> str:
    """Insert the citizen's card, open "apply", pick the subsidy and type its form, up to the
    last tap (which asks for the pre-check: the caller makes it); returns the subsidy's name."""
    kiosk = stack.kiosk_client()
    stack.card().insert(citizen_index=int(citizen["index"]))
    kiosk.wait_screen("home")
    kiosk.tap("home.apply")
    kiosk.wait_screen("subsidies")
    items = stack.central_client().subsidies(citizen["citizen_id"], CENTRAL_API_KEY)
    index = next(i for i, item in enumerate(items) if item["code"] == body["subsidy"])
    for _ in range(index // PER_PAGE):
        kiosk.tap("subsidies.next-page")
    if items[index]["name"] not in screen_text(kiosk):
        raise LookupError(f"{items[index]['name']} is not on the subsidies screen")
    kiosk.tap(f"subsidies.item-{index}")
    for n, form_field in enumerate(items[index]["form_fields"]):
        kiosk.wait_screen("keypad")
        type_on_keypad(kiosk, body["form"][form_field["name"]])
        if n < len(items[index]["form_fields"]) - 1:
            kiosk.tap("keypad.next")
    return str(items[index]["name"])


def confirm_to_receipt(kiosk: KioskClient) -> str:
    """From the pre-check to the receipt; returns the receipt number on the screen."""
    kiosk.tap("precheck.next")
    kiosk.wait_screen("confirm")
    kiosk.tap("confirm.confirm")
    kiosk.wait_screen("receipt", timeout=30)
    found = RECEIPT.search(screen_text(kiosk))
    if found is None:
        raise LookupError(f"no receipt number on the receipt screen: {kiosk.texts()}")
    return found.group(1)


# What the simulated citizen understands of the capture screen's instruction: a few words of
# Chinese, as a person would, not the kiosk's message keys.
_INSTRUCTIONS = (("向左", "turn-left"), ("向右", "turn-right"), ("点一下头", "nod"),
                 ("张开嘴", "open-mouth"), ("眨", "blink"))


def heard_challenge(text: str) -> str | None:
    """The challenge the capture screen asks for now, read from its text; None if none."""
    for words, action in _INSTRUCTIONS:
        if words in text:
            return action
    return None


def follow_challenges(kiosk: KioskClient, camera: CameraSimClient, *, until: tuple[str, ...],
                      timeout: float = 90.0) -> str:
    """Play the person in front of the camera: whenever the capture screen shows a new
    instruction, tell the camera simulator's persona (which performs it if it is a live one).
    Returns the first screen of `until` reached."""
    deadline = time.monotonic() + timeout
    told: str | None = None
    pace = threading.Event()  # never set: paces the poll
    while time.monotonic() < deadline:
        screen = str(kiosk.status().get("screen", ""))
        if screen in until:
            return screen
        if screen == "capture":
            asked = heard_challenge(screen_text(kiosk))
            if asked is not None and asked != told:
                camera.act(asked)
                told = asked
        pace.wait(0.1)
    raise TimeoutError(f"the capture did not end within {timeout:.0f}s (screen {screen!r})")
