"""The staff exit's rules without a window: the PIN hash, the corner gesture, the lockout and
the keypad's own timeout (kiosk/ui/staff_exit.py). The real process is test_staff_exit.py."""

from __future__ import annotations

import logging

import pytest

from common.staff_file import MIN_N
from kiosk.ui.staff_exit import (
    BadPinHash,
    CornerTaps,
    ExitPin,
    StaffExit,
    in_corner,
    load_pin,
)

PIN = "246810"


class Now:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def exit_pin() -> ExitPin:
    return ExitPin.new(PIN, n=MIN_N)  # the cheapest scrypt allowed: fast tests


def opened(state: StaffExit, now: Now) -> None:
    for _ in range(5):
        now.t += 0.2
        state.corner_tap(allowed=True)
    assert state.open


def typed(state: StaffExit, pin: str) -> None:
    for digit in pin:
        state.key(digit)


# The PIN hash ------------------------------------------------------------------------------

def test_the_hash_round_trips_and_checks_only_the_right_pin(exit_pin: ExitPin) -> None:
    encoded = exit_pin.encoded()
    assert PIN not in encoded and encoded.startswith(f"scrypt${MIN_N}$8$1$")
    parsed = ExitPin.parse(encoded)
    assert parsed == exit_pin
    assert parsed.matches(PIN)
    assert not parsed.matches("246811") and not parsed.matches("")
    assert not parsed.matches(PIN + "x")
    assert "digest" not in repr(parsed) and encoded.split("$")[-1] not in repr(parsed)
    # Two hashes of one PIN differ (a fresh salt each): a copied file says nothing of reuse.
    assert ExitPin.new(PIN, n=MIN_N).encoded() != encoded


@pytest.mark.parametrize("bad", [
    "", "246810", "pbkdf2$1024$8$1$AAAA$AAAA", "scrypt$1024$8$1$AAAA",
    "scrypt$1000$8$1$" + "A" * 24 + "$" + "A" * 44,  # n not a power of two
    "scrypt$" + str(2**24) + "$8$1$" + "A" * 24 + "$" + "A" * 44,  # n too costly
    "scrypt$1024$8$1$" + "A" * 24 + "$" + "A" * 8,  # a short hash
    "scrypt$1024$8$1$!!$" + "A" * 44,
])
def test_a_malformed_hash_is_refused(bad: str) -> None:
    with pytest.raises(BadPinHash):
        ExitPin.parse(bad)


def test_short_pins_are_not_provisioned() -> None:
    with pytest.raises(BadPinHash):
        ExitPin.new("1234", n=MIN_N)


def test_unset_or_malformed_turns_the_exit_off_without_logging_the_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    assert load_pin("") is None
    secretish = "scrypt$1024$8$1$c2VjcmV0$c2VjcmV0"
    assert load_pin(secretish) is None
    assert "staff exit off" in caplog.text and "c2VjcmV0" not in caplog.text
    state = StaffExit(None)
    assert not any(state.corner_tap(allowed=True) for _ in range(10))


# The gesture -------------------------------------------------------------------------------

def test_the_corner_is_the_top_left_square() -> None:
    height, side = 1920.0, 80.0
    assert in_corner(0, 1920, height, side) and in_corner(79, 1841, height, side)
    assert not in_corner(81, 1900, height, side)  # right of it
    assert not in_corner(10, 1830, height, side)  # below it
    assert not in_corner(10, 40, height, side)  # the bottom-left corner


def test_five_taps_within_three_seconds_complete_the_gesture() -> None:
    taps = CornerTaps()
    assert not any(taps.tap(t) for t in (0.0, 0.5, 1.0, 1.5))
    assert taps.tap(2.0)
    # It starts over: the sixth tap is the first of a new gesture.
    assert not taps.tap(2.1)


def test_slow_taps_never_complete_it() -> None:
    taps = CornerTaps()
    assert not any(taps.tap(t * 0.8) for t in range(20))  # 5 taps span 3.2 s


def test_a_tap_elsewhere_or_during_a_citizen_session_starts_over() -> None:
    now = Now()
    state = StaffExit(ExitPin.new(PIN, n=MIN_N), now=now)
    for _ in range(4):
        state.corner_tap(allowed=True)
    state.other_tap()
    assert not state.corner_tap(allowed=True) and not state.open
    for _ in range(3):
        state.corner_tap(allowed=True)
    assert not state.corner_tap(allowed=False)  # a citizen's screen: never
    assert not state.corner_tap(allowed=True) and not state.open


# The PIN and the lockout --------------------------------------------------------------------

def test_the_right_pin_exits(exit_pin: ExitPin, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    now = Now()
    state = StaffExit(exit_pin, now=now)
    opened(state, now)
    typed(state, PIN)
    assert state.entered == PIN
    assert state.submit() == "exit" and not state.open
    assert PIN not in caplog.text


def test_erase_and_the_length_limit(exit_pin: ExitPin) -> None:
    now = Now()
    state = StaffExit(exit_pin, now=now)
    opened(state, now)
    typed(state, "2468109")
    state.erase()
    assert state.submit() == "exit"
    opened(state, now)
    typed(state, "9" * 20)
    assert len(state.entered) == 12


def test_three_wrong_pins_lock_the_gesture_for_the_lockout(
    exit_pin: ExitPin, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    now = Now()
    state = StaffExit(exit_pin, lockout_s=300, now=now)
    opened(state, now)
    for attempt in (1, 2):
        typed(state, "111111")
        assert state.submit() == "wrong"
        assert state.open and state.wrong and state.failures == attempt
    typed(state, "222222")
    assert state.submit() == "locked" and not state.open and state.locked()
    for _ in range(5):
        now.t += 0.2
        assert not state.corner_tap(allowed=True)
    now.t += 298  # 299 s after the lock (the taps above took 1 s): still locked
    for _ in range(5):
        state.corner_tap(allowed=True)
    assert not state.open
    now.t += 1  # the lockout is over: the right PIN works again, with three new tries
    opened(state, now)
    assert state.failures == 0
    typed(state, PIN)
    assert state.submit() == "exit"
    assert "111111" not in caplog.text and "222222" not in caplog.text


def test_the_keypad_closes_by_itself_without_keys(exit_pin: ExitPin) -> None:
    now = Now()
    state = StaffExit(exit_pin, timeout_s=20, now=now)
    opened(state, now)
    now.t += 15
    state.key("1")  # a key restarts the wait
    now.t += 19
    assert not state.expired() and state.open
    now.t += 1
    assert state.expired() and not state.open and state.entered == ""
    assert not state.expired()  # once
    assert state.submit() == "closed"


def test_the_provisioning_command_prints_a_hash_that_checks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from kiosk.ui import staff_exit

    answers = iter([PIN, PIN])
    monkeypatch.setattr(staff_exit.getpass, "getpass", lambda _prompt: next(answers))
    assert staff_exit.main() == 0
    out = capsys.readouterr().out
    assert PIN not in out
    line = next(x for x in out.splitlines() if x.startswith("staff_exit_pin_hash = "))
    assert ExitPin.parse(line.split('"')[1]).matches(PIN)

    answers = iter([PIN, "246811"])
    assert staff_exit.main() == 2  # the two differ: nothing printed to paste
    assert "staff_exit_pin_hash" not in capsys.readouterr().out
