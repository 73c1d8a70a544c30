"""The PIN pad's interface: entry events carry a digit count, the PIN block never shows."""

from __future__ import annotations

import pytest

from drivers.pinpad.interface import (
    MAX_BLOCK_BYTES,
    DigitsChanged,
    EntryCompleted,
    EntryEnd,
    EntryEnded,
    PinBlock,
    PinPadHealthCode,
    PinPadUnavailable,
)


def test_the_pin_never_shows() -> None:
    pin = PinBlock(b"123456", encrypted=False)
    done = EntryCompleted(entry_id="e1", pin=pin)
    for text in (repr(pin), str(pin), repr(done), str(done)):
        assert "123456" not in text and "6 bytes" in text
    assert pin != PinBlock(b"123456", encrypted=False)  # identity: no equality on secrets


def test_events_count_digits_and_say_why_an_entry_ended() -> None:
    assert DigitsChanged(entry_id="e1", digits=3).digits == 3
    assert EntryEnded(entry_id="e1", end=EntryEnd.TIMED_OUT).end == "timed-out"


@pytest.mark.parametrize("value", [b"", b"\x00" * (MAX_BLOCK_BYTES + 1)])
def test_a_block_is_bounded(value: bytes) -> None:
    with pytest.raises(ValueError):
        PinBlock(value, encrypted=True)


def test_unavailable_carries_a_code() -> None:
    exc = PinPadUnavailable(PinPadHealthCode.TAMPERED, "tamper switch")
    assert exc.code == "tampered" and "tamper switch" in str(exc)
