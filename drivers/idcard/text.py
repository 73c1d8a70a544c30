"""The 256-byte text block of a resident ID card: UCS-2 little-endian, fixed fields.

    offset:len  0:30 姓名 (15 chars) · 30:2 性别 · 32:4 民族 · 36:16 出生 YYYYMMDD ·
                52:70 住址 (35 chars) · 122:36 公民身份号码 · 158:30 签发机关 ·
                188:16 有效期起 YYYYMMDD · 204:16 有效期止 YYYYMMDD or 长期 · 220:36 预留

Fields are padded with spaces (20 00); some readers pad with NULs, which are accepted at the end
of a field only. The UCS-2 character at offset 248 flags other cards that share the block
(I: foreigner's permanent residence card, J: HK/Macau/Taiwan residence permit, Y: the 2023
foreigner's card); a resident card leaves it blank. Every field is validated: this text comes
from a device, and a card the SAM accepted can still carry a corrupted or forged block.
`decode_block` raises InvalidText with a reason that quotes no field content.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping

from common import citizen_id
from drivers.idcard.interface import (
    ETHNICITIES,
    GENDERS,
    LONG_TERM,
    MAX_PHOTO_BYTES,
    TEXT_BLOCK_BYTES,
    IdCardData,
)

# (offset, length in bytes) of each field.
FIELDS: Mapping[str, tuple[int, int]] = {
    "name": (0, 30), "gender": (30, 2), "ethnicity": (32, 4), "birth": (36, 16),
    "address": (52, 70), "citizen_id": (122, 36), "authority": (158, 30),
    "valid_from": (188, 16), "valid_until": (204, 16), "reserved": (220, 36),
}
TYPE_FLAG = (248, 2)
OTHER_CARD_TYPES = {
    "I": "foreigner's permanent residence card",
    "J": "HK/Macau/Taiwan residence permit",
    "Y": "foreigner's permanent residence card (2023)",
}
_PAD = " \x00"
# Dates older than the first second-generation card and later than any validity are not data.
_EARLIEST = dt.date(1880, 1, 1)
_LATEST = dt.date(2100, 12, 31)


class InvalidText(ValueError):
    """The block is not a valid resident ID card's; the message names the field, not its text."""


class OtherCardType(InvalidText):
    """The block belongs to another card that shares the layout (type flag I, J or Y)."""

    def __init__(self, flag: str) -> None:
        super().__init__(f"a {OTHER_CARD_TYPES[flag]}, not a resident ID card")
        self.flag = flag


def _field(block: bytes, name: str, offset: int, length: int) -> str:
    raw = block[offset : offset + length]
    try:
        text = raw.decode("utf-16-le")  # strict: a lone surrogate is no text
    except UnicodeDecodeError as exc:
        raise InvalidText(f"{name}: not UCS-2 text") from exc
    text = text.rstrip(_PAD)
    if "\x00" in text:
        raise InvalidText(f"{name}: NUL inside the field")
    return text


def _printable(name: str, text: str, *, max_chars: int, required: bool = True) -> str:
    if required and not text.strip():
        raise InvalidText(f"{name}: empty")
    if len(text) > max_chars:
        raise InvalidText(f"{name}: longer than {max_chars} characters")
    for char in text:
        category = unicodedata.category(char)
        # Controls, formats, private use, unassigned and surrogates are no part of a name or an
        # address: they would hide text on screen or break the receipt printer's encoding.
        if category in ("Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"):
            raise InvalidText(f"{name}: holds a control or unassigned character")
    return text.strip()


def _date(name: str, text: str) -> dt.date:
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise InvalidText(f"{name}: not YYYYMMDD")
    try:
        value = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise InvalidText(f"{name}: not a date") from exc
    if not _EARLIEST <= value <= _LATEST:
        raise InvalidText(f"{name}: outside {_EARLIEST.year}-{_LATEST.year}")
    return value


def decode_block(block: bytes, photo: bytes = b"") -> IdCardData:
    """Decode and validate one text block (and keep the photo opaque)."""
    if len(block) != TEXT_BLOCK_BYTES:
        raise InvalidText(f"the text block has {len(block)} bytes, not {TEXT_BLOCK_BYTES}")
    if len(photo) > MAX_PHOTO_BYTES:
        raise InvalidText(f"the photo has {len(photo)} bytes, more than {MAX_PHOTO_BYTES}")
    flag = _field(block, "type flag", *TYPE_FLAG).strip()
    if flag in OTHER_CARD_TYPES:
        raise OtherCardType(flag)
    f = {name: _field(block, name, *where) for name, where in FIELDS.items()}

    name = _printable("name", f["name"], max_chars=15)
    if " " in name.strip():
        raise InvalidText("name: holds a space")
    address = _printable("address", f["address"], max_chars=35)
    authority = _printable("issuing authority", f["authority"], max_chars=15)

    gender = f["gender"]
    if gender not in GENDERS:
        raise InvalidText("gender: not a GB/T 2261.1 code")
    ethnicity = f["ethnicity"]
    if ethnicity not in ETHNICITIES:
        raise InvalidText("ethnicity: not a GB 3304 code")
    birth = _date("birth date", f["birth"])
    try:
        cid = citizen_id.parse(f["citizen_id"])
    except citizen_id.InvalidCitizenId as exc:
        raise InvalidText(f"ID number: {exc}") from exc
    if cid.value != f["citizen_id"]:  # parse() normalises; the card must not need it
        raise InvalidText("ID number: not in its canonical form")
    if cid.birth_date != birth:
        raise InvalidText("birth date: differs from the one in the ID number")

    valid_from = _date("valid from", f["valid_from"])
    until_text = f["valid_until"].strip()
    valid_until = None if until_text == LONG_TERM else _date("valid until", until_text)
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidText("valid until: not after valid from")
    if valid_from < birth:
        raise InvalidText("valid from: before the birth date")

    warnings: list[str] = []
    if gender in ("1", "2") and gender != cid.gender:
        warnings.append("gender differs from the ID number's sequence")
    return IdCardData(
        name=name, gender=gender, ethnicity=ethnicity, birth_date=birth, address=address,
        citizen_id=cid.value, issuing_authority=authority, valid_from=valid_from,
        valid_until=valid_until, photo=bytes(photo), warnings=tuple(warnings),
    )

