"""Simulated resident ID cards: from the central simulator's population, or given outright.

Validity follows the rules printed on every card (居民身份证法 §5): issued under 16 for 5
years, 16-25 for 10, 26-45 for 20, and from 46 long-term (长期). The photo is 1024 opaque bytes
derived from the ID, standing in for the vendor-compressed WLT image nobody may decode.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field

from common.masking import mask_citizen_id, mask_name
from simulators.central.population import Citizen
from simulators.idcard import protocol

LONG_TERM = "长期"


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def term_years(age_at_issue: int) -> int | None:
    """Years of validity for an age at issue; None: long-term."""
    if age_at_issue < 16:
        return 5
    if age_at_issue <= 25:
        return 10
    if age_at_issue <= 45:
        return 20
    return None


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@dataclass(frozen=True, repr=False)
class SimIdCard:
    name: str
    gender: str
    ethnicity: str
    birth_date: dt.date
    address: str
    citizen_id: str
    issuing_authority: str
    valid_from: dt.date
    valid_until: dt.date | None  # None: 长期
    card_type: str = ""  # "" resident; "I" / "J" / "Y": other cards that share the block
    photo: bytes = field(default=b"", compare=False)
    iin: bytes = b"\x00\x00\x00\x00"
    serial_number: bytes = b"\x00" * 8
    citizen_index: int | None = None
    # A text block given byte for byte (tests of hostile cards) instead of the fields above.
    raw_text: bytes | None = None

    @property
    def valid_until_text(self) -> str:
        return LONG_TERM if self.valid_until is None else f"{self.valid_until:%Y%m%d}"

    def text(self) -> bytes:
        if self.raw_text is not None:
            return self.raw_text
        return protocol.text_block({
            "name": self.name, "gender": self.gender, "ethnicity": self.ethnicity,
            "birth": f"{self.birth_date:%Y%m%d}", "address": self.address,
            "citizen_id": self.citizen_id, "authority": self.issuing_authority,
            "valid_from": f"{self.valid_from:%Y%m%d}", "valid_until": self.valid_until_text,
            "type_flag": self.card_type,
        })

    def with_bad_check_char(self) -> SimIdCard:
        """The same card with its ID's last character changed: the check no longer holds."""
        last = self.citizen_id[-1]
        wrong = "0" if last != "0" else "1"
        return dataclasses.replace(self, citizen_id=self.citizen_id[:-1] + wrong)

    def summary(self) -> dict[str, object]:
        """What the control API shows: masked, never the full ID or name."""
        return {
            "citizen_index": self.citizen_index,
            "citizen_id": mask_citizen_id(self.citizen_id),
            "name": mask_name(self.name),
            "valid_from": self.valid_from.isoformat(),
            "valid_until": LONG_TERM if self.valid_until is None else self.valid_until.isoformat(),
            "card_type": self.card_type or "resident",
            "raw_text": self.raw_text is not None,
        }

    def __repr__(self) -> str:
        return f"SimIdCard({mask_citizen_id(self.citizen_id)}, {mask_name(self.name)})"


def photo_for(citizen_id: str) -> bytes:
    return random.Random(hashlib.sha256(citizen_id.encode()).digest()).randbytes(
        protocol.PHOTO_BYTES)


def card_for_citizen(
    citizen: Citizen, today: dt.date, *, expired: bool = False,
    valid_until: dt.date | str | None = None, name: str | None = None, card_type: str = "",
) -> SimIdCard:
    """The citizen's current card: issued some time before `today` and valid on it, unless
    `expired` (its term ended a month ago) or `valid_until` ('长期' or a date) says otherwise."""
    rng = random.Random(f"idcard/{citizen.citizen_id}")
    region = citizen.region_name or "某市某区"
    road = rng.choice(("幸福", "人民", "建设", "解放", "和平"))
    address = f"{region}{road}路{rng.randint(1, 299)}号"
    if rng.random() < 0.5:
        address += f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{rng.randint(101, 2402)}室"
    authority = f"{region[:3]}公安局{region[3:]}分局" if len(region) > 3 else f"{region}公安局"
    issued = today - dt.timedelta(days=rng.randint(30, 4 * 365))
    issued = max(issued, citizen.birth_date + dt.timedelta(days=30))
    years = term_years(_age(citizen.birth_date, issued))
    until: dt.date | None = None if years is None else add_years(issued, years)
    if until is not None and until < today:  # an old draw: renewed on its expiry
        issued, until = until, add_years(until, years or 0)
    if expired:
        years = years or 20
        until = today - dt.timedelta(days=30)
        issued = add_years(until, -years)
    if isinstance(valid_until, str):
        until = None
    elif valid_until is not None:
        until = valid_until
    return SimIdCard(
        name=(name or citizen.name), gender=citizen.gender, ethnicity=citizen.ethnicity,
        birth_date=citizen.birth_date, address=address[:35], citizen_id=citizen.citizen_id,
        issuing_authority=authority[:15], valid_from=issued, valid_until=until,
        card_type=card_type, photo=photo_for(citizen.citizen_id),
        iin=rng.randbytes(4), serial_number=rng.randbytes(8), citizen_index=citizen.index,
    )


def card_from_fields(
    *, citizen_id: str, name: str, gender: str | None = None, ethnicity: str = "01",
    address: str = "北京市朝阳区建设路1号", issuing_authority: str = "北京市公安局朝阳分局",
    valid_from: dt.date, valid_until: dt.date | None, card_type: str = "",
) -> SimIdCard:
    """A card for someone outside the population (a given ID and name)."""
    birth = dt.date(int(citizen_id[6:10]), int(citizen_id[10:12]), int(citizen_id[12:14]))
    if gender is None:
        gender = "1" if int(citizen_id[14:17]) % 2 else "2"
    return SimIdCard(
        name=name, gender=gender, ethnicity=ethnicity, birth_date=birth, address=address,
        citizen_id=citizen_id, issuing_authority=issuing_authority, valid_from=valid_from,
        valid_until=valid_until, card_type=card_type, photo=photo_for(citizen_id),
    )
