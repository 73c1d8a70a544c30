"""Steps a tester takes on the kiosk's screens, through its automation hooks only: type on the
keypad, fill in an application, confirm it. The demo's journey and the end-to-end tests both
drive the kiosk with these."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from simulators.stack.clients import CameraSimClient, KioskClient
from simulators.stack.services import CENTRAL_API_KEY
from simulators.stack.stack import Stack

PER_PAGE = 4  # kiosk.flow.journeys.apply.PER_PAGE: subsidies a page on the kiosk
RECEIPT = re.compile(r"回执编号：(R\d{8}[0-9A-HJKMNP-TV-Z]{10})")


def screen_text(kiosk: KioskClient) -> str:
    return "".join(kiosk.texts())


def type_on_keypad(kiosk: KioskClient, value: str) -> None:
    for char in value:
        kiosk.tap(f"keypad.key-{char}")


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
