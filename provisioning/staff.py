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
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.clock import iso_utc, utc_now
from common.files import write_atomically

FORMAT = "hrss-staff-credentials/1"
STAFF_ID = re.compile(r"^[A-Za-z0-9-]{3,32}$")
PIN = re.compile(r"^[0-9]{6,12}$")
# scrypt cost: n=2**14, r=8 is ~16 MiB and ~50 ms a guess on the terminal's CPU.
DEFAULT_N = 2**14
MIN_N = 2**10  # tests provision cheaper hashes; below this a hash is refused as too weak
MAX_N = 2**20
MAX_FILE_BYTES = 256 * 1024
MAX_STAFF = 500
DEFAULT_VALID_DAYS = 30


class StaffFileError(ValueError):
    """The staff file is missing, malformed or holds an invalid entry."""


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
        return hmac.compare_digest(_scrypt(pin, self.salt, self.n, self.r, self.p), self.digest)


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * 1024 * 1024, dklen=32)


def hash_pin(pin: str, salt: bytes, n: int, r: int = 8, p: int = 1) -> bytes:
    return _scrypt(pin, salt, n, r, p)


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
    return StaffCredential(staff_id, salt, _scrypt(pin, salt, n, 8, 1), n, 8, 1, expires_at)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _entry(cred: StaffCredential) -> dict[str, Any]:
    return {"staff_id": cred.staff_id, "salt": _b64(cred.salt), "hash": _b64(cred.digest),
            "n": cred.n, "r": cred.r, "p": cred.p, "expires_at": iso_utc(cred.expires_at)}


def _parse_entry(raw: Any) -> StaffCredential:
    if not isinstance(raw, dict):
        raise StaffFileError("an entry is an object")
    try:
        staff_id = check_staff_id(str(raw["staff_id"]))
        salt = base64.b64decode(str(raw["salt"]), validate=True)
        digest = base64.b64decode(str(raw["hash"]), validate=True)
        n, r, p = int(raw["n"]), int(raw["r"]), int(raw["p"])
        expires_at = dt.datetime.fromisoformat(str(raw["expires_at"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError) as exc:
        raise StaffFileError(f"malformed entry: {type(exc).__name__}") from None
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
        cred = _parse_entry(entry)
        found[cred.staff_id] = cred
    return found


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
