"""The social security PIN on the card (LD/T 32/33, which follows PBOC for these commands).

- tries left: VERIFY with no data, `00 20 00 00` -> 63Cx (x tries left), 9000 (verified in
  this session), 6983 (locked). Uses no try: the only safe way to show the count.
- verify: `00 20 00 00 Lc <PIN in BCD, F-padded>` -> 9000, 63Cx (wrong, x left), 6983 locked.
- change: `80 5E 01 00 Lc <old> FF <new>` (the standard's CHANGE PIN).
- reload (staff): GET CHALLENGE, then `80 5E 00 00 Lc <new> || MAC4`; unblock (staff): GET
  CHALLENGE, then `84 24 00 00 04 MAC4`. The MAC comes from an authoriser that holds the
  card's reload key (the issuer, via the edge), never from the terminal; see ReloadRequest.

Every operation first SELECTs the application and checks that the card's identification code
is the one the kiosk read, so that a PIN typed for one card never reaches another. Nothing
here logs or formats a PIN. Transport exceptions pass through for the caller to classify.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.card import apdu, ssc
from drivers.card.interface import (
    Pin,
    PinOutcome,
    PinResult,
    ReloadAuthoriser,
    ReloadRefused,
    ReloadRequest,
    StaffCredential,
)

CHALLENGE_BYTES = 8
MAC_BYTES = 4
LOCKED_ADVICE = (
    "the PIN is locked (6983): a staff member can reload it at the service counter, "
    "or at this kiosk with staff credentials"
)


class CardChanged(Exception):
    """The card in the reader is not the one the kiosk read (or holds no SSSE)."""

    def __init__(self, outcome: PinOutcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


def verify_command(pin: Pin | None) -> bytes:
    if pin is None:
        return bytes([0x00, 0x20, 0x00, 0x00])  # case 1: the tries-left query
    block = pin.bcd()
    return bytes([0x00, 0x20, 0x00, 0x00, len(block)]) + block


def change_command(old: Pin, new: Pin) -> bytes:
    data = old.bcd() + b"\xff" + new.bcd()
    return bytes([0x80, 0x5E, 0x01, 0x00, len(data)]) + data


def uses_a_try(command: bytes) -> bool:
    """Whether the card counts a PIN try for this command (VERIFY with data, CHANGE)."""
    if len(command) < 4:
        return False
    cla, ins, p1 = command[0], command[1], command[2]
    if ins == 0x20:
        return len(command) > 5  # VERIFY with data; the bare query uses none
    return (cla, ins, p1) == (0x80, 0x5E, 0x01) or (cla, ins) == (0x00, 0x24)


def result_for(sw: int, *, query: bool = False) -> PinResult:  # noqa: PLR0911 (SW table)
    """What a PIN status word means. `query`: the answer to the tries-left query."""
    if sw == apdu.SW_OK:
        return PinResult(PinOutcome.OK)
    if sw >> 4 == 0x63C:
        tries = sw & 0x0F
        if tries == 0:
            return PinResult(PinOutcome.LOCKED, 0, LOCKED_ADVICE)
        if query:
            return PinResult(PinOutcome.OK, tries)
        return PinResult(PinOutcome.WRONG_PIN, tries, f"wrong PIN, {tries} tries left")
    if sw == 0x6983:
        return PinResult(PinOutcome.LOCKED, 0, LOCKED_ADVICE)
    if sw == 0x6988:
        return PinResult(PinOutcome.REFUSED, None, "the card rejected the staff authorisation")
    if sw == 0x6A80:
        return PinResult(PinOutcome.FAILED, None, "the card refused the PIN's form (6A80)")
    return PinResult(PinOutcome.FAILED, None, f"the card answered {sw:04X}")


def ensure_card(transport: apdu.Transport, *, t0: bool, card_id_code: str) -> None:
    """SELECT SSSE and compare EF05 tag 01 with the card the kiosk read."""
    try:
        apdu.transmit(
            transport, apdu.select_by_name(ssc.SSSE_DF_NAME), t0=t0, check=ssc.SELECT_CHAIN
        )
    except ssc.ApplicationBlocked as exc:
        raise CardChanged(
            PinOutcome.FAILED, f"the social security application is blocked ({exc.sw:04X})"
        ) from exc
    except apdu.ApduError as exc:
        raise CardChanged(
            PinOutcome.NOT_SSC, f"SELECT of the application answered {exc.sw:04X}"
        ) from exc
    f = ssc.EF05_FIELDS[0]
    response = apdu.transmit(
        transport, apdu.read_record_by_tag(f.tag, f.sfi, le=f.le), t0=t0, check=None
    )
    try:
        found = ssc.parse_tlv(response.data, f.tag).hex().upper() if response.ok else ""
    except ssc.MalformedRecord:
        found = ""
    if found != card_id_code.upper():
        raise CardChanged(PinOutcome.REMOVED, "a different card is in the reader")


def tries_left(transport: apdu.Transport, *, t0: bool) -> PinResult:
    response = apdu.transmit(transport, verify_command(None), t0=t0, check=None)
    return result_for(response.sw, query=True)


def verify(transport: apdu.Transport, pin: Pin, *, t0: bool) -> PinResult:
    response = apdu.transmit(transport, verify_command(pin), t0=t0, check=None)
    return result_for(response.sw)


def change(transport: apdu.Transport, old: Pin, new: Pin, *, t0: bool) -> PinResult:
    response = apdu.transmit(transport, change_command(old, new), t0=t0, check=None)
    return result_for(response.sw)


@dataclass(frozen=True)
class _StaffCommand:
    operation: str
    header: bytes


RELOAD = _StaffCommand("reload", bytes.fromhex("805E0000"))
UNBLOCK = _StaffCommand("unblock", bytes.fromhex("84240000"))


def staff_command(
    transport: apdu.Transport, command: _StaffCommand, new: Pin | None, *, t0: bool,
    card_id_code: str, staff: StaffCredential, authorise: ReloadAuthoriser,
) -> PinResult:
    """GET CHALLENGE, ask the authoriser for the MAC, send the reload / unblock."""
    challenge = apdu.transmit(
        transport, bytes([0x00, 0x84, 0x00, 0x00, CHALLENGE_BYTES]), t0=t0, check=None
    )
    if not challenge.ok or len(challenge.data) != CHALLENGE_BYTES:
        return PinResult(PinOutcome.FAILED, None, f"GET CHALLENGE answered {challenge.sw:04X}")
    request = ReloadRequest(
        operation=command.operation, card_id_code=card_id_code.upper(),
        challenge=challenge.data.hex().upper(), staff=staff,
    )
    try:
        mac = authorise(request)
    except ReloadRefused as exc:
        return PinResult(PinOutcome.REFUSED, None, f"staff authorisation refused: {exc}")
    if not isinstance(mac, bytes) or len(mac) != MAC_BYTES:
        return PinResult(PinOutcome.REFUSED, None, "the authoriser answered no 4-byte MAC")
    data = (new.bcd() if new is not None else b"") + mac
    response = apdu.transmit(
        transport, command.header + bytes([len(data)]) + data, t0=t0, check=None
    )
    return result_for(response.sw)
