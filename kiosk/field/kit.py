"""What the field journeys share: the staff sessions, and the certify kit made for field mode
(method "field", the logged-in staff member's ID in every signed record).

The app installs it once in field mode (`install_field`), like the certify kit."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.field.session import StaffSessions

if TYPE_CHECKING:  # kiosk.flow imports the field journeys, which import this module
    from kiosk.flow.certify_kit import CertifyKit

FIELD_CAPABILITY = "field"


@dataclass(frozen=True)
class FieldKit:
    sessions: StaffSessions
    certify: Callable[[], CertifyKit | None]  # the app's certify kit (camera, engine, key)


def staff_kit(kit: CertifyKit, sessions: StaffSessions) -> CertifyKit:
    """`kit` for field mode: method "field", and the staff member of the live staff session
    stamped into each record before it is signed (signed_record builds the record with
    staff_id None, then signs that same dict)."""
    sign = kit.sign

    def stamped(record: dict[str, Any]) -> str:
        session = sessions.current()
        record["staff_id"] = session.staff_id if session is not None else None
        return sign(record)

    return dataclasses.replace(kit, method="field", sign=stamped)


_installed: list[FieldKit] = []


def install_field(kit: FieldKit | None) -> None:
    _installed[:] = [kit] if kit is not None else []


def installed_field() -> FieldKit | None:
    return _installed[0] if _installed else None


def capabilities_of(kit: FieldKit | None) -> frozenset[str]:
    return frozenset({FIELD_CAPABILITY}) if kit is not None else frozenset()
