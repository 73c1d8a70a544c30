"""How a virtual card or PSAM hands back response data under T=0 and T=1: one home for the
procedure bytes both answer with (61xx "fetch it with GET RESPONSE", 6Cxx "ask again with
this Le"), so that the card and the PSAM cannot drift apart."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from simulators.card.applet import Command

SW_OK = b"\x90\x00"
SW_CONDITIONS = b"\x69\x85"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"


class Pending(Protocol):
    """A session holding the response data that waits for GET RESPONSE (T=0)."""

    pending: bytes


def answer(session: Pending, command: Command, data: bytes, *, t0: bool, case4: bool) -> bytes:
    """Answer with `data` the way the transmission protocol demands."""
    if not t0:
        if command.le is not None and command.le != 0 and command.le < len(data):
            return b"\x6c" + bytes([len(data) & 0xFF])
        return data + SW_OK
    if case4 or command.le is None:
        # T=0 cannot return data to a case 3 TPDU: the card asks to be fetched.
        session.pending = data
        return b"\x61" + bytes([len(data) & 0xFF])
    if command.expected != len(data):
        return b"\x6c" + bytes([len(data) & 0xFF])
    return data + SW_OK


def get_response(session: Pending, command: Command, *, t0: bool) -> bytes:
    """GET RESPONSE: the waiting data, in chunks of the Le asked for (T=0 only)."""
    if not t0:
        return SW_INS_NOT_SUPPORTED
    pending = session.pending
    if not pending:
        return SW_CONDITIONS
    wanted = command.expected
    if wanted > len(pending):
        return b"\x6c" + bytes([len(pending) & 0xFF])
    chunk, rest = pending[:wanted], pending[wanted:]
    session.pending = rest
    if rest:
        return chunk + b"\x61" + bytes([min(len(rest), 256) & 0xFF])
    return chunk + SW_OK
