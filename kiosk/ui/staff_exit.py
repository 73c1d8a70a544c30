"""The staff exit: a hidden gesture, then a PIN, ends the kiosk with exit status 0.

No Kivy here (unit-testable, and `python -m kiosk.ui.staff_exit` runs without a window); the
keypad that shows it is kiosk/ui/staff_exit_panel.py.

Citizens cannot leave the kiosk app: ESC, Android's back key and window close requests are
refused (kiosk.ui.boot, kiosk.ui.app). Staff servicing a terminal with no keyboard need to.
Five taps in the top-left corner (an invisible 80 dp square) within 3 s open a PIN keypad; the
right PIN stops the kiosk with status 0, which systemd's `Restart=on-failure` leaves stopped
(deploy/systemd/hrss-kiosk.service), while a crash (non-zero, or a signal) is restarted.

Only while no citizen is served (the attract screen, the out-of-service notice): a session must
never be ended under a citizen with their card in the reader, and a pensioner tapping again and
again in a corner must never meet a staff dialog. The keypad closes by itself after
`timeout_s` without a key, and as soon as a citizen's session begins.

The PIN is provisioned as a salted scrypt hash (common.staff_file.hash_pin, as for field
staff) in the device file's `staff_exit_pin_hash`; never the PIN itself, and neither is ever
logged. Three wrong PINs lock the gesture out for `lockout_s`. The count lives in memory: a
restart only comes from a power cut here (an exit needs the PIN), which costs minutes, so a
6-digit PIN still takes years of guessing.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hmac
import logging
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from common.staff_file import DEFAULT_N, MAX_N, MIN_N, PIN, hash_pin

log = logging.getLogger(__name__)

CORNER_DP = 80.0
TAPS = 5
TAPS_WITHIN_S = 3.0
MAX_FAILURES = 3
MAX_PIN_LENGTH = 12  # common.staff_file.PIN: 6-12 digits
_PREFIX = "scrypt"

Outcome = Literal["exit", "wrong", "locked", "closed"]


class BadPinHash(ValueError):
    """`staff_exit_pin_hash` is not what `python -m kiosk.ui.staff_exit` writes."""


@dataclass(frozen=True)
class ExitPin:
    """A salted scrypt hash of the staff exit PIN: `scrypt$<n>$<r>$<p>$<salt>$<hash>` (base64)."""

    salt: bytes
    digest: bytes
    n: int = DEFAULT_N
    r: int = 8
    p: int = 1

    def __repr__(self) -> str:  # the hash stays out of logs and tracebacks
        return f"ExitPin(n={self.n})"

    @classmethod
    def new(cls, pin: str, n: int = DEFAULT_N) -> ExitPin:
        if not PIN.fullmatch(pin):
            raise BadPinHash("a staff exit PIN is 6-12 digits")
        salt = secrets.token_bytes(16)
        return cls(salt, hash_pin(pin, salt, n), n)

    @classmethod
    def parse(cls, text: str) -> ExitPin:
        parts = text.strip().split("$")
        try:
            if len(parts) != 6 or parts[0] != _PREFIX:
                raise ValueError
            n, r, p = (int(v) for v in parts[1:4])
            salt = base64.b64decode(parts[4], validate=True)
            digest = base64.b64decode(parts[5], validate=True)
        except (ValueError, binascii.Error):
            raise BadPinHash("staff_exit_pin_hash: not scrypt$n$r$p$salt$hash") from None
        # Hostile input like the staff file: scrypt's cost bounded, so a bad file cannot hang us.
        if not (MIN_N <= n <= MAX_N and not n & (n - 1) and 1 <= r <= 16 and 1 <= p <= 4
                and 16 <= len(salt) <= 64 and len(digest) == 32):
            raise BadPinHash("staff_exit_pin_hash: parameters out of range")
        return cls(salt, digest, n, r, p)

    def encoded(self) -> str:
        b64 = base64.b64encode
        return (f"{_PREFIX}${self.n}${self.r}${self.p}$"
                f"{b64(self.salt).decode()}${b64(self.digest).decode()}")

    def matches(self, pin: str) -> bool:
        """Constant-time; ~50 ms of scrypt, so it runs once per attempt, not per key."""
        if not PIN.fullmatch(pin):
            return False
        return hmac.compare_digest(hash_pin(pin, self.salt, self.n, self.r, self.p),
                                   self.digest)


def in_corner(x: float, y: float, window_height: float, side: float) -> bool:
    """The top-left square of `side` (Kivy's window coordinates start at the bottom left)."""
    return 0 <= x <= side and window_height - side <= y <= window_height


@dataclass
class CornerTaps:
    """TAPS taps within TAPS_WITHIN_S: the gesture. One tap outside the corner starts over."""

    taps: int = TAPS
    within_s: float = TAPS_WITHIN_S
    _times: list[float] = field(default_factory=list)

    def tap(self, now: float) -> bool:
        """Count a corner tap; True (and start over) when it completes the gesture."""
        self._times = [t for t in self._times if now - t <= self.within_s] + [now]
        if len(self._times) >= self.taps:
            self._times = []
            return True
        return False

    def reset(self) -> None:
        self._times = []


class StaffExit:
    """The keypad's state; every call on the UI thread. `open` says whether it shows."""

    def __init__(self, pin: ExitPin | None, *, timeout_s: float = 20.0,
                 lockout_s: float = 300.0, max_failures: int = MAX_FAILURES,
                 now: Callable[[], float] = time.monotonic) -> None:
        self._pin = pin
        self.timeout_s = timeout_s
        self.lockout_s = lockout_s
        self.max_failures = max_failures
        self._now = now
        self._taps = CornerTaps()
        self.open = False
        self.entered = ""
        self.failures = 0  # wrong PINs since the last lockout or success
        self.wrong = False  # the last PIN was wrong (the keypad says so)
        self._locked_until = float("-inf")
        self._closes_at = float("inf")

    @property
    def enabled(self) -> bool:
        return self._pin is not None

    def locked(self) -> bool:
        return self._now() < self._locked_until

    def corner_tap(self, allowed: bool) -> bool:
        """A tap in the corner; True when it opened the keypad. `allowed`: no citizen served."""
        if self.open or not self.enabled:
            return False
        if not allowed:
            self._taps.reset()  # taps from a citizen's session never count
            return False
        if not self._taps.tap(self._now()):
            return False
        if self.locked():
            log.info("staff exit gesture ignored: locked after %d wrong PINs", self.max_failures)
            return False
        self.open, self.entered, self.wrong = True, "", False
        self._touch()
        log.info("staff exit keypad opened")
        return True

    def other_tap(self) -> None:
        """A tap anywhere else: the gesture must be five taps in a row in the corner."""
        self._taps.reset()

    def key(self, digit: str) -> None:
        if self.open and digit.isdigit() and len(digit) == 1 \
                and len(self.entered) < MAX_PIN_LENGTH:
            self.entered += digit
            self.wrong = False
            self._touch()

    def erase(self) -> None:
        if self.open:
            self.entered = self.entered[:-1]
            self._touch()

    def submit(self) -> Outcome:
        """Check the PIN typed: "exit" (stop the kiosk now), "wrong" or "locked" (closed)."""
        if not self.open or self._pin is None:
            return "closed"
        pin, self.entered = self.entered, ""
        if self._pin.matches(pin):
            self.failures = 0
            self.open = False
            log.warning("staff exit: PIN accepted; the kiosk stops (exit status 0)")
            return "exit"
        self.failures += 1
        if self.failures >= self.max_failures:
            self.failures = 0
            self._locked_until = self._now() + self.lockout_s
            self.close()
            log.warning("staff exit: %d wrong PINs; the gesture is locked for %.0f s",
                        self.max_failures, self.lockout_s)
            return "locked"
        self.wrong = True
        self._touch()
        log.warning("staff exit: wrong PIN (%d of %d)", self.failures, self.max_failures)
        return "wrong"

    def close(self) -> None:
        self.open, self.entered, self.wrong = False, "", False
        self._closes_at = float("inf")

    def expired(self) -> bool:
        """Open with no key for `timeout_s`: close it (True once, when it closes)."""
        if self.open and self._now() >= self._closes_at:
            self.close()
            log.info("staff exit keypad closed: no key for %.0f s", self.timeout_s)
            return True
        return False

    def _touch(self) -> None:
        self._closes_at = self._now() + self.timeout_s


def load_pin(encoded: str) -> ExitPin | None:
    """The provisioned hash, or None (the staff exit is off) when unset or malformed: a bad
    value must not keep the kiosk from serving citizens."""
    if not encoded:
        log.info("staff exit off: no staff_exit_pin_hash")
        return None
    try:
        return ExitPin.parse(encoded)
    except BadPinHash as exc:
        log.error("staff exit off: %s", exc)
        return None


def main() -> int:
    """Prompt for a PIN twice; print the device file's line (the PIN is never echoed)."""
    pin = getpass.getpass("staff exit PIN (6-12 digits): ")
    if pin != getpass.getpass("again: "):
        sys.stderr.write("the two PINs differ\n")
        return 2
    try:
        encoded = ExitPin.new(pin).encoded()
    except BadPinHash as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    sys.stdout.write("# [kiosk] table of the device file (or KIOSK_STAFF_EXIT_PIN_HASH)\n"
                     f'staff_exit_pin_hash = "{encoded}"\n')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
