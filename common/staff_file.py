"""The terminal's staff file: its format and the reader the kiosk checks PINs with offline
(kiosk/field); provisioning/staff.py writes it with the same definitions.

Per staff member: a salted scrypt hash of the PIN and an expiry. Everything in the file is
hostile input: bounded size, checked shapes, parameters in range.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.clock import iso_utc

FORMAT = "hrss-staff-credentials/1"
STAFF_ID = re.compile(r"^[A-Za-z0-9-]{3,32}$")
PIN = re.compile(r"^[0-9]{6,12}$")
DEFAULT_N = 2**14
MIN_N = 2**10
MAX_N = 2**20
MAX_FILE_BYTES = 256 * 1024
MAX_STAFF = 500


class StaffFileError(ValueError):
    """The staff file is missing, malformed or holds an invalid entry."""


def hash_pin(pin: str, salt: bytes, n: int, r: int = 8, p: int = 1) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * 1024 * 1024, dklen=32)


@dataclass(frozen=True)
class StaffCredential:
    staff_id: str
    salt: bytes
    digest: bytes
    n: int
    r: int
    p: int
    expires_at: dt.datetime

    def __repr__(self) -> str:  # the hash stays out of logs and tracebacks
        return f"StaffCredential({self.staff_id!r}, expires_at={iso_utc(self.expires_at)})"

    def expired(self, now: dt.datetime) -> bool:
        return now >= self.expires_at

    def matches(self, pin: str) -> bool:
        """Constant-time comparison of the PIN's hash with the stored one."""
        if not PIN.fullmatch(pin):
            return False
        return hmac.compare_digest(hash_pin(pin, self.salt, self.n, self.r, self.p), self.digest)


def parse_entry(raw: Any) -> StaffCredential:
    if not isinstance(raw, dict):
        raise StaffFileError("an entry is an object")
    try:
        staff_id = str(raw["staff_id"])
        salt = base64.b64decode(str(raw["salt"]), validate=True)
        digest = base64.b64decode(str(raw["hash"]), validate=True)
        n, r, p = int(raw["n"]), int(raw["r"]), int(raw["p"])
        expires_at = dt.datetime.fromisoformat(str(raw["expires_at"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError) as exc:
        raise StaffFileError(f"malformed entry: {type(exc).__name__}") from None
    if not STAFF_ID.fullmatch(staff_id):
        raise StaffFileError("a staff ID is 3-32 letters, digits or '-'")
    if expires_at.tzinfo is None:
        raise StaffFileError("expires_at without a timezone")
    if not (16 <= len(salt) <= 64 and len(digest) == 32 and MIN_N <= n <= MAX_N
            and not n & (n - 1) and 1 <= r <= 16 and 1 <= p <= 4):
        raise StaffFileError("entry parameters out of range")
    return StaffCredential(staff_id, salt, digest, n, r, p, expires_at.astimezone(dt.UTC))


def load(path: Path) -> dict[str, StaffCredential]:
    """The credentials by staff ID; StaffFileError when the file is unusable."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise StaffFileError(f"cannot read the staff file: {type(exc).__name__}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise StaffFileError("staff file too large")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise StaffFileError("staff file is not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StaffFileError("not a staff credentials file")
    entries = doc.get("staff")
    if not isinstance(entries, list) or len(entries) > MAX_STAFF:
        raise StaffFileError("staff: a list of at most 500 entries")
    found: dict[str, StaffCredential] = {}
    for entry in entries:
        cred = parse_entry(entry)
        found[cred.staff_id] = cred
    return found
