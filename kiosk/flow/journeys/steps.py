"""Steps several journeys share: a field typed on the keypad, a confirmation, a receipt.

Each is frozen data a screen renders (kiosk/ui/screens/keypad.py, confirm.py, receipt.py);
the screen's words come from the catalogue under the journey's key (`<journey>.confirm.title`).
`FieldEntry` is the one mutable piece: what the citizen is typing, in memory only. A PIN is
shown as dots and is in no repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from common.citizen_id import InvalidCitizenId, parse
from kiosk.edge.models import FieldKind, FormField, Receipt
from kiosk.flow.events import Tap
from kiosk.flow.screens import Action

DOT = "●"


class KeypadKind(StrEnum):
    DIGITS = "digits"
    PHONE = "phone"  # 11 digits starting with 1
    CITIZEN_ID = "citizen-id"  # 17 digits and a digit or X, with a valid check character
    PIN = "pin"  # the 6-digit service PIN, shown as dots


class Typed(StrEnum):
    """What a keypad tap did to the field."""

    CHANGED = "changed"
    DONE = "done"  # NEXT with a valid value
    REFUSED = "refused"  # NEXT with an invalid value: the error shows
    NOTHING = "nothing"


@dataclass(frozen=True)
class Keypad:
    """The keypad screen's content."""

    label: str  # i18n key of what is asked ("field.phone")
    kind: KeypadKind
    shown: str = field(repr=False)  # what is typed so far, or dots for a PIN
    length: int = 0
    max_length: int = 0
    ready: bool = False  # the NEXT key is enabled
    error: str | None = None  # i18n key of why NEXT was refused
    step: int = 1  # "2 / 3"
    steps: int = 1

    @property
    def keys(self) -> tuple[str, ...]:
        digits = ("1", "2", "3", "4", "5", "6", "7", "8", "9")
        return (*digits, "X", "0") if self.kind is KeypadKind.CITIZEN_ID else (*digits, "0")


@dataclass(repr=False)
class FieldEntry:
    """One field being typed. Wiped as soon as what it held has been sent."""

    name: str
    label: str
    kind: KeypadKind
    min_length: int
    max_length: int
    value: str = ""
    error: str | None = None

    @classmethod
    def for_form(cls, form_field: FormField) -> FieldEntry:
        low, high = form_field.length
        kind = KeypadKind.PHONE if form_field.kind is FieldKind.PHONE else KeypadKind.DIGITS
        return cls(form_field.name, f"field.{form_field.name}", kind, low, high)

    @classmethod
    def citizen_id(cls) -> FieldEntry:
        return cls("citizen_id", "field.citizen_id", KeypadKind.CITIZEN_ID, 18, 18)

    @classmethod
    def pin(cls) -> FieldEntry:
        return cls("pin", "field.pin", KeypadKind.PIN, 6, 6)

    def on_tap(self, tap: Tap) -> Typed:
        match tap.action:
            case Action.KEY if tap.value is not None and self._takes(tap.value):
                self.value += tap.value
                self.error = None
                return Typed.CHANGED
            case Action.ERASE if self.value:
                self.value = self.value[:-1]
                self.error = None
                return Typed.CHANGED
            case Action.NEXT:
                self.error = self.problem()
                return Typed.DONE if self.error is None else Typed.REFUSED
        return Typed.NOTHING

    def _takes(self, char: str) -> bool:
        if len(self.value) >= self.max_length or len(char) != 1:
            return False
        if char == "X":  # only an ID number's check character can be X
            return self.kind is KeypadKind.CITIZEN_ID and len(self.value) == 17
        return char.isascii() and char.isdigit()

    def problem(self) -> str | None:
        """The i18n key of what is wrong with the value, or None when it may be sent."""
        value = self.value
        if not self.min_length <= len(value) <= self.max_length:
            return f"keypad.error.{self.kind}.length"
        if self.kind is KeypadKind.PHONE and not value.startswith("1"):
            return "keypad.error.phone.prefix"
        if self.kind is KeypadKind.CITIZEN_ID:
            try:
                parse(value)
            except InvalidCitizenId:
                return "keypad.error.citizen-id.check"
        return None

    def keypad(self, step: int, steps: int) -> Keypad:
        shown = DOT * len(self.value) if self.kind is KeypadKind.PIN else self.value
        return Keypad(self.label, self.kind, shown, len(self.value), self.max_length,
                      ready=self.min_length <= len(self.value), error=self.error,
                      step=step, steps=steps)

    def wipe(self) -> None:
        self.value = ""
        self.error = None

    def __repr__(self) -> str:
        return f"FieldEntry({self.name}, {self.kind}, length={len(self.value)})"


@dataclass(frozen=True)
class Row:
    """One line of a confirmation: a label (an i18n key) and its value as shown."""

    label: str
    value: str = field(repr=False)
    format: str = "text"  # or "period": "2026", "2026-05", "once", worded by the screen


@dataclass(frozen=True)
class Confirmation:
    rows: tuple[Row, ...] = ()
    warning: str | None = None  # i18n key of what confirming will do ("your card is blocked")


@dataclass(frozen=True)
class Receipted:
    """The receipt screen's content: the receipt and what it is for."""

    receipt: Receipt
    subject: str = ""  # the subsidy's name; empty for a card loss report

