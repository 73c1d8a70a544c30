"""The card reader's typed interface: what a card read yields and the events it publishes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from common.masking import mask_citizen_id, mask_name
from drivers.base import Device, DeviceEvent


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


@dataclass(frozen=True)
class CardInserted(DeviceEvent):
    reader: str
    atr: str


@dataclass(frozen=True)
class CardRead(DeviceEvent):
    reader: str
    data: CardData


@dataclass(frozen=True)
class CardReadFailed(DeviceEvent):
    reader: str
    failure: CardFailure
    detail: str = ""  # operator-facing English; never holds card data


@dataclass(frozen=True)
class CardRemoved(DeviceEvent):
    reader: str


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


class CardReadError(Exception):
    def __init__(self, failure: CardFailure, detail: str = "") -> None:
        super().__init__(f"{failure}: {detail}" if detail else str(failure))
        self.failure = failure
        self.detail = detail
