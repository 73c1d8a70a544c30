"""Field staff credentials on a terminal: the file `kioskctl provision staff add` writes and the
kiosk's field mode reads (kiosk/field/credentials.py) to check a staff ID and PIN offline.

The file holds, per staff member, a salted scrypt hash of the PIN (never the PIN) and an
expiry; no citizen data. A PIN has few digits, so the hash is slow on purpose (scrypt, ~50 ms a
guess), the file is 0600, and the kiosk locks after repeated failures: a stolen file still
leaves a PIN guessable offline in hours, which is why each credential expires (default 30
days) and is re-provisioned by the office (docs/field-mode.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Any

from common.clock import iso_utc, utc_now
from common.files import write_atomically
from common.staff_file import (
    DEFAULT_N,
    FORMAT,
    MAX_FILE_BYTES,
    MAX_N,
    MAX_STAFF,
    MIN_N,
    PIN,
    STAFF_ID,
    StaffCredential,
    StaffFileError,
    hash_pin,
    load,
)

# The format's definitions, re-exported for the writer's callers.
__all__ = ["DEFAULT_N", "FORMAT", "MAX_FILE_BYTES", "MIN_N", "StaffCredential",
           "StaffFileError", "add", "hash_pin", "load", "new_credential", "remove", "save"]

DEFAULT_VALID_DAYS = 30


def check_staff_id(staff_id: str) -> str:
    if not STAFF_ID.fullmatch(staff_id):
        raise StaffFileError("a staff ID is 3-32 letters, digits or '-'")
    return staff_id


def new_credential(staff_id: str, pin: str, expires_at: dt.datetime, *,
                   n: int = DEFAULT_N) -> StaffCredential:
    check_staff_id(staff_id)
    if not PIN.fullmatch(pin):
        raise StaffFileError("a PIN is 6-12 digits")
    if not MIN_N <= n <= MAX_N or n & (n - 1):
        raise StaffFileError("scrypt n must be a power of two in range")
    if expires_at.tzinfo is None:
        raise StaffFileError("expires_at must be timezone-aware")
    salt = secrets.token_bytes(16)
    return StaffCredential(staff_id, salt, hash_pin(pin, salt, n, 8, 1), n, 8, 1, expires_at)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _entry(cred: StaffCredential) -> dict[str, Any]:
    return {"staff_id": cred.staff_id, "salt": _b64(cred.salt), "hash": _b64(cred.digest),
            "n": cred.n, "r": cred.r, "p": cred.p, "expires_at": iso_utc(cred.expires_at)}


def save(path: Path, creds: dict[str, StaffCredential]) -> None:
    doc = {"format": FORMAT,
           "staff": [_entry(c) for c in sorted(creds.values(), key=lambda c: c.staff_id)]}
    write_atomically(path, json.dumps(doc, indent=1) + "\n", mode=0o600)


def add(path: Path, staff_id: str, pin: str, *, valid_days: int = DEFAULT_VALID_DAYS,
        now: dt.datetime | None = None, n: int = DEFAULT_N) -> StaffCredential:
    """Add or replace one staff member's credential (a new PIN, a new expiry)."""
    if not 1 <= valid_days <= 366:
        raise StaffFileError("valid_days is 1..366")
    creds = load(path) if path.exists() else {}
    if staff_id not in creds and len(creds) >= MAX_STAFF:
        raise StaffFileError("staff file full")
    cred = new_credential(staff_id, pin,
                          (now or utc_now()) + dt.timedelta(days=valid_days), n=n)
    creds[cred.staff_id] = cred
    save(path, creds)
    return cred


def remove(path: Path, staff_id: str) -> bool:
    creds = load(path)
    if creds.pop(staff_id, None) is None:
        return False
    save(path, creds)
    return True
