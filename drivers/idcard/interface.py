"""The resident ID card reader's typed interface (二代居民身份证, read through a SAM module).

A reader finds the card, the SAM authenticates it, and the reader hands back the card's fixed
information: a 256-byte UCS-2 text block (name, gender, ethnicity, birth date, address, ID
number, issuing authority, validity) and a 1024-byte photo. The photo is a WLT file whose
compression is proprietary (only closed vendor libraries decode it), so it stays opaque bytes:
never decoded, logged or written anywhere. The face check uses central's template instead.

Everything here lives in memory only: the kiosk hands the credential fields to the edge server
and drops the data when the session ends. `repr()` masks the holder's ID and name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from common.masking import mask_citizen_id, mask_name
from drivers.base import Device, DeviceEvent

KIND = "idcard_reader"  # Device.kind: the key in the kiosk's status document

# The card file's photo is 1024 bytes (GA 467 fixed information); a larger one is not a photo.
MAX_PHOTO_BYTES = 1024
TEXT_BLOCK_BYTES = 256
NAME_CHARS = 15
LONG_TERM = "长期"  # 有效期止 of a card valid for life (holders over 46)

# GB 3304 nationality codes as the card stores them (two digits).
ETHNICITIES: dict[str, str] = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝",
    "08": "壮", "09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白",
    "15": "土家", "16": "哈尼", "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤",
    "22": "畲", "23": "高山", "24": "拉祜", "25": "水", "26": "东乡", "27": "纳西", "28": "景颇",
    "29": "柯尔克孜", "30": "土", "31": "达斡尔", "32": "仫佬", "33": "羌", "34": "布朗",
    "35": "撒拉", "36": "毛南", "37": "仡佬", "38": "锡伯", "39": "阿昌", "40": "普米",
    "41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克", "46": "德昂",
    "47": "保安", "48": "裕固", "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春",
    "53": "赫哲", "54": "门巴", "55": "珞巴", "56": "基诺", "97": "其他",
    "98": "外国血统中国籍人士",
}
# GB/T 2261.1-2003.
GENDERS: dict[str, str] = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}


class IdCardHealthCode(StrEnum):
    OK = "ok"
    READER_MISSING = "reader-missing"  # missing: the serial port is absent; retried with backoff
    READER_ERROR = "reader-error"  # missing: the port is there but nothing valid answers
    SAM_ERROR = "sam-error"  # missing: the SAM failed its self-test or is not authorised


class IdCardFailure(StrEnum):
    """Why a presented card yielded no IdCardData. The kiosk maps each to plain words."""

    REMOVED = "removed"  # taken away before the read finished
    UNRESPONSIVE = "unresponsive"  # the reader did not answer within the deadline
    BAD_FRAME = "bad-frame"  # the answer was corrupted: checksum, length, garbage
    READ_FAILED = "read-failed"  # the reader or SAM could not select, authenticate or read it
    INVALID_DATA = "invalid-data"  # the text block is not a valid resident ID card's
    EXPIRED = "expired"  # its validity ended before today
    UNSUPPORTED_CARD = "unsupported-card"  # foreigner's card or HK/Macau/Taiwan residence permit
    READER_UNAVAILABLE = "reader-unavailable"  # the port went away, or the SAM refuses to work


@dataclass(frozen=True, repr=False)
class IdCardData:
    """The fixed information of one resident ID card, validated."""

    name: str
    gender: str  # GB/T 2261.1 code: "1" male, "2" female ("0", "9" rare)
    ethnicity: str  # GB 3304 two-digit code, "01" = 汉
    birth_date: dt.date
    address: str
    citizen_id: str
    issuing_authority: str
    valid_from: dt.date
    valid_until: dt.date | None  # None: 长期 (valid for life)
    # The WLT photo as read: opaque, compared by nobody, never shown in repr.
    photo: bytes = field(default=b"", compare=False)
    # Oddities that do not make the card invalid (e.g. gender differs from the ID's sequence).
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.photo) > MAX_PHOTO_BYTES:
            raise ValueError(f"a card photo holds at most {MAX_PHOTO_BYTES} bytes")

    @property
    def name_truncated(self) -> bool:
        """The name fills its 15 characters: a longer name (common for Uyghur names with
        "·") was cut by the issuer, so compare it with central's record as a prefix."""
        return len(self.name) >= NAME_CHARS

    @property
    def ethnicity_name(self) -> str:
        return ETHNICITIES.get(self.ethnicity, "")

    @property
    def gender_name(self) -> str:
        return GENDERS.get(self.gender, "")

    @property
    def valid_until_text(self) -> str:
        """'YYYY-MM-DD', or '长期': the form the edge contract takes."""
        return LONG_TERM if self.valid_until is None else self.valid_until.isoformat()

    def is_expired(self, today: dt.date) -> bool:
        """A card is valid through its last day (有效期止 inclusive)."""
        return self.valid_until is not None and self.valid_until < today

    def credential_fields(self) -> dict[str, str]:
        """The body of {"method": "idcard", "idcard": {...}} (POST /api/v1/sessions)."""
        return {"citizen_id": self.citizen_id, "name": self.name,
                "valid_until": self.valid_until_text}

    def __repr__(self) -> str:
        return (
            f"IdCardData(citizen_id={mask_citizen_id(self.citizen_id)}, "
            f"name={mask_name(self.name)}, valid_until={self.valid_until_text}, "
            f"photo=<{len(self.photo)} bytes>)"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class IdCardRead(DeviceEvent):
    reader: str
    data: IdCardData


@dataclass(frozen=True)
class IdCardReadFailed(DeviceEvent):
    reader: str
    failure: IdCardFailure
    detail: str = ""  # operator-facing English; never holds card data


@dataclass(frozen=True)
class IdCardRemoved(DeviceEvent):
    reader: str


@runtime_checkable
class IdCardReader(Device, Protocol):
    """Watches for ID cards and reads each once per presentation.

    Events for one presentation, in order: IdCardRead or IdCardReadFailed, then IdCardRemoved
    when the card leaves the reader. Plus HealthChanged, as every driver.
    """

    kind: str  # KIND

    def rejections(self) -> dict[str, int]:
        """How many reads and frames were rejected, by reason, since construction."""
        ...
