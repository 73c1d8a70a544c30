"""The social security card (社会保障卡) layout: what to read, how to decode it, how to export it.

Layout and encodings are in shared/docs/ssc-card.md (reconstructed from public readers, not
the normative LD/T 32 text), so decoding is tolerant where it can be: a malformed optional field
becomes None plus a warning. The ID number and the name are what the citizen is identified and
greeted by, so a missing or undecodable one makes the read fail (UNREADABLE): a name is never
shown half-decoded.

Names are GB18030, the superset of GBK that every card personalised since 2005 may use: GBK lacks
e.g. 䶮 (U+4DAE, GB18030 FE9F) and every CJK Ext-B character (4-byte GB18030 sequences).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from common import citizen_id as cid
from drivers.card import apdu
from drivers.card.atr import historical_bytes
from drivers.card.interface import CardData, CardFailure, CardReadError, PartialCardData
from drivers.card.psam import CardAuthenticationFailed, PsamUnavailable

NAME_ENCODING = "gb18030"
# sx1.sh. + GBK 社会保障: the social security application (SSSE).
SSSE_DF_NAME = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")
EF05_SFI = 5  # card and issuer data
EF06_SFI = 6  # holder data

# EF05
TAG_CARD_ID_CODE = 0x01
TAG_CARD_TYPE = 0x02
TAG_SPEC_VERSION = 0x03
TAG_INIT_ORG_CODE = 0x04
TAG_ISSUE_DATE = 0x05
TAG_EXPIRY_DATE = 0x06
TAG_CARD_NUMBER = 0x07
# EF06
TAG_CITIZEN_ID = 0x08
TAG_NAME = 0x09
TAG_NAME_EXTENSION = 0x4E
TAG_GENDER = 0x0A
TAG_ETHNICITY = 0x0B
TAG_BIRTHPLACE = 0x0C
TAG_BIRTH_DATE = 0x0D


@dataclass(frozen=True)
class Field:
    sfi: int
    tag: int
    label: str  # English, for warnings and logs (never the value)
    length: int  # value length in the specification; the record is 2 bytes longer

    @property
    def le(self) -> int:
        """Le for READ RECORD. Asking for the exact size saves T=0 cards a 6Cxx round trip
        per field (16 APDUs a read instead of 30); a card that disagrees still answers 6Cxx."""
        return 2 + self.length


EF05_FIELDS = (
    Field(EF05_SFI, TAG_CARD_ID_CODE, "card identification code", 16),
    Field(EF05_SFI, TAG_CARD_TYPE, "card type", 1),
    Field(EF05_SFI, TAG_SPEC_VERSION, "spec version", 4),
    Field(EF05_SFI, TAG_INIT_ORG_CODE, "initialising organisation code", 12),
    Field(EF05_SFI, TAG_ISSUE_DATE, "issue date", 4),
    Field(EF05_SFI, TAG_EXPIRY_DATE, "expiry date", 4),
    Field(EF05_SFI, TAG_CARD_NUMBER, "card number", 9),
)
NAME_BYTES = 30
NAME_EXTENSION_BYTES = 20
EF06_FIELDS = (
    Field(EF06_SFI, TAG_CITIZEN_ID, "social security number", 18),
    Field(EF06_SFI, TAG_NAME, "name", NAME_BYTES),
    Field(EF06_SFI, TAG_NAME_EXTENSION, "name extension", NAME_EXTENSION_BYTES),
    Field(EF06_SFI, TAG_GENDER, "gender", 1),
    Field(EF06_SFI, TAG_ETHNICITY, "ethnicity", 1),
    Field(EF06_SFI, TAG_BIRTHPLACE, "birthplace", 3),
    Field(EF06_SFI, TAG_BIRTH_DATE, "birth date", 4),
)
READ_FIELDS = EF05_FIELDS + EF06_FIELDS
REQUIRED_TAGS = frozenset({TAG_CITIZEN_ID, TAG_NAME})

T = TypeVar("T")


# -- TLV and field decoding -----------------------------------------------------------------------
class MalformedRecord(ValueError):
    """A record that is not the TLV the layout promises."""


def parse_tlv(record: bytes, expected_tag: int | None = None) -> bytes:
    """The value of a one-TLV record (tag 1 byte, length 1 byte, value).

    Bytes after the value are ignored (some cards return the record padded to its file's
    record size); a length running past the end is an error.
    """
    if len(record) < 2:
        raise MalformedRecord("record shorter than a tag and a length")
    tag, length = record[0], record[1]
    if expected_tag is not None and tag != expected_tag:
        raise MalformedRecord(f"record carries tag {tag:02X}, expected {expected_tag:02X}")
    if 2 + length > len(record):
        raise MalformedRecord("TLV length runs past the end of the record")
    return record[2 : 2 + length]


def bcd_digits(value: bytes) -> str:
    """Packed BCD to digits, dropping F padding (cn fields are F-padded on the right)."""
    digits = value.hex().upper().rstrip("F")
    if not digits.isdigit() and digits:
        raise ValueError("not packed BCD")
    return digits


def bcd_date(value: bytes) -> dt.date | None:
    """YYYYMMDD in 4 BCD bytes; None for an unset date (all 00 or all FF)."""
    if not value or set(value) <= {0x00} or set(value) <= {0xFF}:
        return None
    digits = bcd_digits(value)
    if len(digits) != 8:
        raise ValueError("a BCD date has 8 digits")
    return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))


def an_text(value: bytes) -> str:
    """An ASCII (an) field: 0x00-padded; FF and spaces are trimmed too, for old issuers."""
    return value.rstrip(b"\x00\xff ").decode("ascii").strip()


# Categories a name never holds: control, format, surrogate, private use (what pre-2005 GBK
# user-defined areas decode to: a glyph only the issuer's font had), unassigned.
_NOT_IN_A_NAME = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


class UndecodableName(ValueError):
    """The name bytes are not GB18030 text a person's name can hold."""


def gb18030_text(value: bytes) -> str:
    """A GB18030 text field, 0x00/FF-padded. Raises UnicodeDecodeError on invalid bytes."""
    return value.rstrip(b"\x00\xff").decode(NAME_ENCODING).strip()


gbk_text = gb18030_text  # the old name; GB18030 decodes every GBK text the same way


def hex_code(value: bytes) -> str:
    return value.hex().upper()


def decode_name(name: bytes, extension: bytes | None) -> str:
    """Tag 09 (30 bytes) plus the tag 4E extension for long (mostly minority) names.

    The raw bytes are joined before decoding: an issuer that split the name mid-character
    still yields the right text, and the 09 part's 0x00 padding is dropped first. Raises
    UndecodableName for bytes that are not GB18030, or that decode to characters no name
    holds (controls, private use, unassigned code points, U+FFFD).
    """
    raw = name.rstrip(b"\x00")
    if extension:
        raw += extension.rstrip(b"\x00")
    try:
        text = gb18030_text(raw)
    except UnicodeDecodeError as exc:
        raise UndecodableName(f"not GB18030 at byte {exc.start}") from exc
    for ch in text:
        if ch == "\ufffd" or unicodedata.category(ch) in _NOT_IN_A_NAME:
            raise UndecodableName(f"holds U+{ord(ch):04X}, which no name holds")
    return text


# A field with fewer free bytes than this has no room for one more character of every length
# GB18030 has (1, 2 or 4 bytes): an issuer that cut a longer name at a character boundary
# leaves at most 3 bytes free. Flagging a name that merely fills the field is cheap (the edge
# compares it with the central record); missing a cut one would show a wrong name.
_ROOM_FOR_A_CHARACTER = 4


def name_may_be_truncated(name: bytes, extension: bytes | None) -> bool:
    """Whether the last name field the card has is full: tag 4E when the card carries it
    (generation 2/3), else tag 09 (generation 1)."""
    if extension is not None:
        last, size = extension, NAME_EXTENSION_BYTES
        if not extension.rstrip(b"\x00"):
            return False  # room was left: the name ended in tag 09
    else:
        last, size = name, NAME_BYTES
    return size - len(last.rstrip(b"\x00")) < _ROOM_FOR_A_CHARACTER


# -- cross-checks ---------------------------------------------------------------------------------
def cross_check(citizen_id: str, birth_date: dt.date | None, gender: str | None) -> list[str]:
    """Warnings (never errors) where EF06 disagrees with the ID number it carries.

    Corrected IDs exist in the wild (a registry fixed the birth date, the chip kept the old
    one), so the kiosk shows these to staff and carries on. Messages hold no data.
    """
    try:
        parsed = cid.parse(citizen_id)
    except cid.InvalidCitizenId as exc:
        return [f"social security number is not a valid citizen ID ({exc})"]
    warnings: list[str] = []
    if birth_date is not None and birth_date != parsed.birth_date:
        warnings.append("birth date in EF06 differs from the one in the citizen ID")
    if gender in ("1", "2") and gender != parsed.gender:
        warnings.append("gender in EF06 differs from the citizen ID's sequence parity")
    return warnings


# -- decoding a whole read ------------------------------------------------------------------------
def decode_partial(atr: str, protocol: str, values: Mapping[int, bytes]) -> PartialCardData:
    """The unprotected EF05 items, decoded leniently (a bad one is left empty)."""

    def field(tag: int, decode: Callable[[bytes], T]) -> T | None:
        raw = values.get(tag)
        if raw is None:
            return None
        try:
            return decode(raw)
        except ValueError:
            return None

    return PartialCardData(
        atr=atr,
        protocol=protocol,
        card_id_code=field(TAG_CARD_ID_CODE, hex_code) or "",
        card_type=field(TAG_CARD_TYPE, an_text) or "",
        spec_version=field(TAG_SPEC_VERSION, an_text) or "",
        issue_date=field(TAG_ISSUE_DATE, bcd_date),
        expiry_date=field(TAG_EXPIRY_DATE, bcd_date),
        card_number=field(TAG_CARD_NUMBER, an_text) or "",
    )


def _generation(values: Mapping[int, bytes]) -> int:
    try:
        return int(float(an_text(values.get(TAG_SPEC_VERSION, b""))))
    except (ValueError, OverflowError):
        return 0


def decode_card(
    atr: str, protocol: str, values: Mapping[int, bytes], *, psam_authenticated: bool = False,
) -> CardData:
    """CardData from TLV values by tag (absent tags are simply missing from `values`)."""
    warnings: list[str] = []

    def field(tag: int, decode: Callable[[bytes], T], label: str) -> T | None:
        raw = values.get(tag)
        if raw is None:
            return None
        try:
            return decode(raw)
        except ValueError:  # UnicodeDecodeError included
            warnings.append(f"{label} is not encoded as the specification says")
            return None

    def text(tag: int, decode: Callable[[bytes], str], label: str) -> str:
        return field(tag, decode, label) or ""

    def date(tag: int, label: str) -> dt.date | None:
        return field(tag, bcd_date, label)

    citizen = text(TAG_CITIZEN_ID, an_text, "social security number").upper()
    raw_name, raw_extension = values.get(TAG_NAME, b""), values.get(TAG_NAME_EXTENSION)
    try:
        name = decode_name(raw_name, raw_extension)
    except UndecodableName as exc:
        raise CardReadError(
            CardFailure.UNREADABLE, f"the name is not readable text ({exc})"
        ) from exc
    if not citizen or not name:
        missing = "social security number" if not citizen else "name"
        raise CardReadError(CardFailure.UNREADABLE, f"the card holds no {missing}")
    gender = text(TAG_GENDER, an_text, "gender") or None
    birth_date = date(TAG_BIRTH_DATE, "birth date")
    warnings += cross_check(citizen, birth_date, gender)
    return CardData(
        atr=atr,
        protocol=protocol,
        card_id_code=text(TAG_CARD_ID_CODE, hex_code, "card identification code"),
        card_type=text(TAG_CARD_TYPE, an_text, "card type"),
        spec_version=text(TAG_SPEC_VERSION, an_text, "spec version"),
        init_org_code=text(TAG_INIT_ORG_CODE, hex_code, "initialising organisation code"),
        issue_date=date(TAG_ISSUE_DATE, "issue date"),
        expiry_date=date(TAG_EXPIRY_DATE, "expiry date"),
        card_number=text(TAG_CARD_NUMBER, an_text, "card number"),
        citizen_id=citizen,
        name=name,
        gender=gender,
        ethnicity=text(TAG_ETHNICITY, bcd_digits, "ethnicity") or None,
        birthplace=text(TAG_BIRTHPLACE, bcd_digits, "birthplace") or None,
        birth_date=birth_date,
        warnings=tuple(warnings),
        name_truncated=name_may_be_truncated(raw_name, raw_extension),
        psam_authenticated=psam_authenticated,
    )


# -- status words ---------------------------------------------------------------------------------
class ApplicationBlocked(apdu.ApduError):
    """The application or one of its files is blocked: a locked card (CardFailure.LOCKED)."""


def blocked_select_checker(response: apdu.Response) -> None:
    """SELECT of a blocked application: 6283 (ISO: selected file deactivated) or 6A81 (what
    social security and PBOC cards answer for a locked application, though ISO says
    "function not supported")."""
    if response.sw in (0x6283, 0x6A81):
        raise ApplicationBlocked(response.sw, "application blocked")


def blocked_record_checker(response: apdu.Response) -> None:
    """READ RECORD in a deactivated file (6283), or behind a blocked key (6983 / 6984)."""
    if response.sw in (0x6283, 0x6983, 0x6984):
        raise ApplicationBlocked(response.sw, "file or its key blocked")


# The checker chains, pyscard-style: the card-specific checker first, then ISO 7816-4, then
# anything else. SELECT is done when the card answers any other warning (6284: FCI not
# formatted, ...): the application is selected. READ RECORD accepts 6A83 (an optional field
# the card lacks) and 6282 (a record shorter than Le; its TLV length is checked anyway).
SELECT_CHAIN = apdu.ErrorCheckingChain(
    [blocked_select_checker, apdu.iso7816_4_checker, apdu.catch_all_checker],
    ignore=(apdu.WarningStatus,),
)
READ_CHAIN = apdu.ErrorCheckingChain(
    [blocked_record_checker, apdu.iso7816_4_checker, apdu.catch_all_checker],
    ignore=(apdu.RecordNotFound, apdu.EndOfRecord),
)
_DATA_SWS = frozenset({apdu.SW_OK, 0x6282})


# -- the read sequence ----------------------------------------------------------------------------


# Called with the card identification code (16 bytes) of a generation 3 card, before its
# protected items are read: authenticates card and terminal with the PSAM (drivers.card.psam),
# or raises PsamUnavailable / CardAuthenticationFailed.
Authenticator = Callable[[bytes], None]


def read_card(  # noqa: PLR0912 (one branch per status word class)
    transport: apdu.Transport, *, atr: str, protocol: str,
    authenticate: Authenticator | None = None,
) -> CardData:
    """SELECT SSSE, READ RECORD by tag for EF05 and EF06, decode. Never sends VERIFY.

    A generation 3 card (spec version 3.x in EF05 tag 03) is authenticated with `authenticate`
    right after tag 03, before the protected items. Raises CardReadError: LOCKED when the
    application or holder data is blocked, NOT_SSC when the application is absent, NEEDS_PSAM
    (with the EF05 items read as `partial`) when EF06 is behind authentication and no PSAM
    could open it, UNREADABLE when the card fails authentication, for other refusals or
    malformed records. Transport exceptions pass through for the caller to classify.
    """
    t0 = protocol == "T=0"
    try:
        apdu.transmit(transport, apdu.select_by_name(SSSE_DF_NAME), t0=t0, check=SELECT_CHAIN)
    except ApplicationBlocked as exc:
        raise CardReadError(
            CardFailure.LOCKED, f"the social security application is blocked (SW {exc.sw:04X})"
        ) from exc
    except apdu.ApduError as exc:
        raise CardReadError(
            CardFailure.NOT_SSC, f"no social security application (SELECT answered {exc.sw:04X})"
        ) from exc

    values: dict[int, bytes] = {}
    psam_note = "no PSAM is configured" if authenticate is None else ""
    attempted = authenticated = False
    for f in READ_FIELDS:
        if (
            authenticate is not None and not attempted and TAG_SPEC_VERSION in values
            and _generation(values) >= 3 and f.tag != TAG_SPEC_VERSION
        ):
            attempted = True
            card_id = values.get(TAG_CARD_ID_CODE, b"")
            try:
                if len(card_id) != 16:
                    raise PsamUnavailable("the card gives no identification code")
                authenticate(card_id)
                authenticated = True
            except PsamUnavailable as exc:
                psam_note = f"PSAM: {exc}"
            except CardAuthenticationFailed as exc:
                raise CardReadError(
                    CardFailure.UNREADABLE, f"card authentication with the PSAM failed: {exc}"
                ) from exc
        command = apdu.read_record_by_tag(f.tag, f.sfi, le=f.le)
        try:
            response = apdu.transmit(transport, command, t0=t0, check=READ_CHAIN)
        except ApplicationBlocked as exc:
            if f.sfi == EF06_SFI or f.tag in REQUIRED_TAGS:
                raise CardReadError(
                    CardFailure.LOCKED, f"the {f.label} is blocked (SW {exc.sw:04X})"
                ) from exc
            continue
        except apdu.SecurityStatusError as exc:
            if f.sfi == EF06_SFI:
                note = f"; {psam_note}" if psam_note else ""
                raise CardReadError(
                    CardFailure.NEEDS_PSAM,
                    f"holder data needs PSAM authentication (SW {exc.sw:04X}){note}",
                    partial=decode_partial(atr, protocol, values),
                ) from exc
            continue  # part of EF05 may be protected too; those fields stay empty
        except apdu.ApduError as exc:
            if f.tag in REQUIRED_TAGS:
                raise CardReadError(
                    CardFailure.UNREADABLE, f"reading the {f.label} answered {exc.sw:04X}"
                ) from exc
            continue
        if response.sw not in _DATA_SWS:  # 6A83: the card does not carry this field
            continue
        try:
            values[f.tag] = parse_tlv(response.data, f.tag)
        except MalformedRecord as exc:
            if f.tag in REQUIRED_TAGS:
                raise CardReadError(CardFailure.UNREADABLE, f"{f.label}: {exc}") from exc
    return decode_card(atr, protocol, values, psam_authenticated=authenticated)


# -- export ---------------------------------------------------------------------------------------
def ireadcardbas(
    data: CardData, terminal_number: str = "", terminal_device_number: str = ""
) -> str:
    """The vendor SDKs' `iReadCardBas` answer, for integrators that expect it.

    region code | social security number | card number | card identification code | name |
    card reset information | spec version | issue date | expiry | terminal number |
    terminal device number |, each field followed by `|` (the last one too). The reset field
    is the ATR's historical bytes only, in hex. Dates are YYYYMMDD. It holds full citizen
    data: hand it on, never log it.
    """

    def ymd(d: dt.date | None) -> str:
        return d.strftime("%Y%m%d") if d else ""

    parts = [
        data.issuing_region,
        data.citizen_id,
        data.card_number,
        data.card_id_code,
        data.name,
        historical_bytes(bytes.fromhex(data.atr)).hex().upper(),
        data.spec_version,
        ymd(data.issue_date),
        ymd(data.expiry_date),
        terminal_number,
        terminal_device_number,
    ]
    if any("|" in p for p in parts):
        raise ValueError("a field contains the separator")
    return "".join(f"{p}|" for p in parts)
