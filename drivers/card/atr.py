"""The answer to reset (ISO 7816-3 section 8.2): where its historical bytes are."""

from __future__ import annotations


class MalformedAtr(ValueError):
    """The ATR ends before the bytes its format bytes announce."""


def historical_bytes(atr: bytes) -> bytes:
    """The historical bytes T1..TK of an ATR.

    T0's low nibble is K; its high nibble, and each TDi's, says which of TA, TB, TC and TD
    follow, so the interface bytes are walked to find where the historical bytes begin.
    """
    if len(atr) < 2:
        raise MalformedAtr("an ATR has at least TS and T0")
    count = atr[1] & 0x0F
    presence = atr[1] >> 4
    index = 2
    while True:
        index += bin(presence & 0x07).count("1")  # TA, TB, TC
        if not presence & 0x08:  # no TD: the interface bytes end here
            break
        if index >= len(atr):
            raise MalformedAtr("the ATR ends inside its interface bytes")
        presence = atr[index] >> 4
        index += 1
    if index + count > len(atr):
        raise MalformedAtr("the ATR ends inside its historical bytes")
    return atr[index : index + count]
