"""The card reader's typed interface: what a card read yields and the events it publishes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from common.masking import mask_citizen_id, mask_name
from drivers.base import Device, DeviceEvent

if TYPE_CHECKING:
    from drivers.pinpad.interface import PinBlock

DEFAULT_SLOT = "contact"  # the slot of a single-slot reader


@dataclass(frozen=True, repr=False)
class CardData:
    """EF05 (card/issuer) and EF06 (holder) of one social security card.

    Lives only in memory: the kiosk hands it to the edge server and drops it when the session
    ends. `repr()` masks the holder's ID and name so that a stray log line cannot leak them.
    """

    atr: str  # hex, upper case
    protocol: str  # "T=0" or "T=1"
    # EF05
    card_id_code: str  # 32 hex chars; the first 6 digits are the issuing region
    card_type: str
    spec_version: str  # "1.00" / "2.00" / "3.00"
    init_org_code: str
    issue_date: dt.date | None
    expiry_date: dt.date | None
    card_number: str
    # EF06
    citizen_id: str
    name: str
    gender: str | None  # "1" male, "2" female
    ethnicity: str | None  # 2-digit code, "01" = Han
    birthplace: str | None  # region code
    birth_date: dt.date | None
    # Inconsistencies noticed while reading (e.g. ID birth date differs from EF06); never fatal.
    warnings: tuple[str, ...] = field(default=())
    # The last name field the card has (tag 09 on generation 1, 4E on 2/3) is full, so a longer
    # name may have been cut by the issuer: compare with the central record before trusting it.
    name_truncated: bool = False
    # Generation 3: holder data was read after card authentication with the terminal's PSAM.
    psam_authenticated: bool = False

    @property
    def generation(self) -> int:
        """1, 2 or 3 from the spec version; 0 when the card states none we know."""
        try:
            generation = int(float(self.spec_version))
        except (ValueError, OverflowError):  # "", "nan", "inf": the text comes off the card
            return 0
        return generation if generation in (1, 2, 3) else 0

    @property
    def issuing_region(self) -> str:
        return self.card_id_code[:6]

    def __repr__(self) -> str:
        return (
            f"CardData(citizen_id={mask_citizen_id(self.citizen_id)}, name={mask_name(self.name)},"
            f" generation={self.generation}, protocol={self.protocol})"
        )


@dataclass(frozen=True)
class PartialCardData:
    """What a generation 3 card shows without a PSAM: EF05's unprotected items. No citizen
    data (the holder fields are exactly what is protected), so it may be shown and logged."""

    atr: str
    protocol: str
    card_id_code: str
    card_type: str
    spec_version: str
    issue_date: dt.date | None
    expiry_date: dt.date | None
    card_number: str

    @property
    def generation(self) -> int:
        try:
            generation = int(float(self.spec_version))
        except (ValueError, OverflowError):
            return 0
        return generation if generation in (1, 2, 3) else 0


class CardFailure(StrEnum):
    """Why a read did not yield CardData. The kiosk maps each to plain words for the citizen."""

    REMOVED = "removed"  # pulled out before the read finished
    NEEDS_PSAM = "needs-psam"  # generation 3 card: holder data behind PSAM authentication
    NOT_SSC = "not-ssc"  # no social security application on it (bank card, transit card, ...)
    LOCKED = "locked"  # the application is blocked (SELECT 6283 / 6A81): the issuer must unlock
    UNRESPONSIVE = "unresponsive"  # no ATR, no answer within the read's deadline, wrong way round
    UNREADABLE = "unreadable"  # it answered, but not as the specification says
    READER_UNAVAILABLE = "reader-unavailable"  # PC/SC service down or the reader disappeared


class CardHealthCode(StrEnum):
    """`Health.code` of a card reader (a str: JSON shows the plain value)."""

    OK = "ok"
    PCSC_UNAVAILABLE = "pcsc-unavailable"  # missing: pcscd not running or not answering
    READER_MISSING = "reader-missing"  # missing: no reader matches the configured name
    READER_ERROR = "reader-error"  # missing: PC/SC answered something unexpected; retried
    READER_BUSY = "reader-busy"  # degraded: another program holds the reader exclusively


# Every card event says which reader and which of the terminal's slots ("contact",
# "contactless", ... as configured) the card is in; the SAM slot never has card events.
@dataclass(frozen=True)
class CardInserted(DeviceEvent):
    reader: str
    atr: str
    slot: str = DEFAULT_SLOT


@dataclass(frozen=True)
class CardRead(DeviceEvent):
    reader: str
    data: CardData
    slot: str = DEFAULT_SLOT


@dataclass(frozen=True)
class CardReadFailed(DeviceEvent):
    reader: str
    failure: CardFailure
    detail: str = ""  # operator-facing English; never holds card data
    slot: str = DEFAULT_SLOT
    # NEEDS_PSAM: the fields the card let us read (EF05 without the protected items).
    partial: PartialCardData | None = None


@dataclass(frozen=True)
class CardRemoved(DeviceEvent):
    reader: str
    slot: str = DEFAULT_SLOT


# -- PIN ------------------------------------------------------------------------------------------
PIN_DIGITS = (4, 12)  # ISO 9564 bounds; social security cards use 6


@dataclass(frozen=True, repr=False, eq=False)
class Pin:
    """A PIN from the citizen's keypad. Never printed: repr says only how many digits.
    Compared by identity: equality on a secret invites timing-unsafe comparisons."""

    digits: str

    def __post_init__(self) -> None:
        low, high = PIN_DIGITS
        if not (self.digits.isascii() and self.digits.isdigit()) or not (
            low <= len(self.digits) <= high
        ):
            raise ValueError(f"a PIN has {low} to {high} digits")

    @classmethod
    def from_digits(cls, digits: str) -> Pin:
        return cls(digits)

    @classmethod
    def from_block(cls, block: PinBlock) -> Pin:
        """A plain keypad's block (ASCII digits). An EPP's encrypted block cannot go to the
        card's plain VERIFY: ValueError."""
        if block.encrypted:
            raise ValueError("an encrypted PIN block cannot be verified in plain on the card")
        try:
            return cls(block.value.decode("ascii"))
        except UnicodeDecodeError:
            raise ValueError("a PIN block holds ASCII digits") from None

    def bcd(self) -> bytes:
        """The card's form: two digits a byte, F-padded when odd."""
        return bytes.fromhex(self.digits + ("F" if len(self.digits) % 2 else ""))

    def __repr__(self) -> str:
        return f"Pin(<{len(self.digits)} digits>)"

    __str__ = __repr__


class PinOutcome(StrEnum):
    OK = "ok"
    WRONG_PIN = "wrong-pin"  # 63Cx: x tries left (> 0)
    LOCKED = "locked"  # 6983 (or 63C0): no try left; staff reload it
    REMOVED = "removed"  # no card, the card was pulled, or another card is in the reader
    UNRESPONSIVE = "unresponsive"  # the card did not answer within the deadline
    READER_UNAVAILABLE = "reader-unavailable"
    NOT_SSC = "not-ssc"
    REFUSED = "refused"  # the staff authorisation was refused, or the card rejected its MAC
    FAILED = "failed"  # any other answer; detail says which


@dataclass(frozen=True)
class PinResult:
    outcome: PinOutcome
    tries_left: int | None = None  # from 63Cx; 0 when locked; None when unknown
    detail: str = ""  # operator English; never the PIN
    # The card may have counted a try that we never saw answered (pulled or silent mid-VERIFY
    # or mid-change): ask pin_tries_left() when it is back. Never a silent loss.
    try_may_be_used: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome is PinOutcome.OK


@dataclass(frozen=True, repr=False)
class StaffCredential:
    """Who authorises a reload or unblock, and their code; the code is never printed."""

    staff_id: str
    code: str

    def __repr__(self) -> str:
        return f"StaffCredential(staff_id={self.staff_id!r}, code=<hidden>)"


@dataclass(frozen=True)
class ReloadRequest:
    """What an authoriser (the edge / issuer, which holds the reload key) is asked to sign.
    Holds no PIN and no citizen data: the card id and the card's one-time challenge."""

    operation: str  # "reload" | "unblock"
    card_id_code: str  # 32 hex
    challenge: str  # 16 hex, from the card's GET CHALLENGE
    staff: StaffCredential


class ReloadRefused(Exception):
    """Raised by an authoriser that will not authorise (unknown staff, wrong code, offline)."""


# Returns the 4-byte MAC for the card's RELOAD PIN / PIN UNBLOCK, or raises ReloadRefused.
ReloadAuthoriser = Callable[[ReloadRequest], bytes]


@runtime_checkable
class CardReader(Device, Protocol):
    """A reader that watches for cards and reads each one as it is inserted.

    Events, in order, for one card: CardInserted, then CardRead or CardReadFailed, then
    CardRemoved. A card pulled mid-read yields CardReadFailed(REMOVED) then CardRemoved.
    """

    def read(self) -> CardData:
        """Read the card present now (e.g. a retry after UNREADABLE) on the caller's thread,
        within the driver's read deadline.

        Raises CardReadError carrying a CardFailure.
        """
        ...


@runtime_checkable
class PinCapableReader(Protocol):
    """PIN operations on the card last reported read (CardRead, or CardReadFailed with
    NEEDS_PSAM). Each runs with a total deadline and returns a PinResult; none raises for
    card or reader trouble, and none is ever sent without the citizen's (or staff's) input."""

    def pin_tries_left(self) -> PinResult: ...

    def verify_pin(self, pin: Pin) -> PinResult: ...

    def change_pin(self, old: Pin, new: Pin) -> PinResult: ...

    def reload_pin(
        self, new: Pin, staff: StaffCredential, authorise: ReloadAuthoriser
    ) -> PinResult: ...

    def unblock_pin(self, staff: StaffCredential, authorise: ReloadAuthoriser) -> PinResult: ...


class CardReadError(Exception):
    def __init__(
        self, failure: CardFailure, detail: str = "", partial: PartialCardData | None = None
    ) -> None:
        super().__init__(f"{failure}: {detail}" if detail else str(failure))
        self.failure = failure
        self.detail = detail
        self.partial = partial
