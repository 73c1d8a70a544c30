"""Resident identity numbers (GB 11643-1999): check character, birth date, gender, region."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from common.masking import mask_citizen_id

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# [0-9], not \d: \d also matches full-width and other Unicode digits, which int() accepts but
# no card, database or upstream does.
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


class InvalidCitizenId(ValueError):
    """The text is not a well-formed 18-character citizen ID."""


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidCitizenId("need exactly seventeen digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


@dataclass(frozen=True)
class CitizenId:
    value: str
    region: str
    birth_date: dt.date
    sequence: int

    @property
    def gender(self) -> str:
        """'1' male, '2' female: the card's own encoding (odd sequence = male)."""
        return "1" if self.sequence % 2 else "2"

    def __repr__(self) -> str:  # never show the full number, even in a traceback
        return f"CitizenId({mask_citizen_id(self.value)})"

    __str__ = __repr__


def normalize(text: str) -> str:
    return text.strip().upper()


def parse(text: str) -> CitizenId:
    """Parse and validate; raises InvalidCitizenId with a reason that holds no digits of it."""
    value = normalize(text)
    if len(value) != 18 or not value.isascii() or not _SHAPE.fullmatch(value):
        raise InvalidCitizenId("a citizen ID has seventeen digits and a final digit or X")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise InvalidCitizenId("the birth date inside it is not a date") from exc
    if check_char(value[:17]) != value[17]:
        raise InvalidCitizenId("the check character does not match")
    return CitizenId(value=value, region=value[:6], birth_date=birth, sequence=int(value[14:17]))


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except InvalidCitizenId:
        return False
    return True


def make(region: str, birth_date: dt.date, sequence: int) -> str:
    """Build a valid ID (used by the population simulator)."""
    first17 = f"{region}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)
