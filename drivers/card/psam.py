"""Card authentication of a generation 3 card with the terminal's PSAM (SAM slot).

Both directions, with the PSAM holding the keys (it derives each card's keys from the card
identification code; the terminal never sees a key):

1. PSAM GET CHALLENGE -> R1; card INTERNAL AUTHENTICATE(R1) -> C1; PSAM EXTERNAL AUTHENTICATE
   (card id || C1): the card is genuine.
2. card GET CHALLENGE -> R2; PSAM INTERNAL AUTHENTICATE (card id || R2) -> C2; card EXTERNAL
   AUTHENTICATE(C2): the terminal is entitled, and the card opens its holder data (EF06).

The command forms are those of simulators/card/psam.py and docs/simulators/card.md (the real
RKSSSE formats are not public); the status words are ISO 7816-4's.
"""

from __future__ import annotations

from drivers.card import apdu

PSAM_AID = bytes.fromhex("D15600000590")  # the MOHRSS PSAM application
CHALLENGE_BYTES = 8
CRYPTOGRAM_BYTES = 16

class PsamUnavailable(Exception):
    """No PSAM to authenticate with (slot empty, not a PSAM, not answering as one)."""


class CardAuthenticationFailed(Exception):
    """The card failed authentication (not genuine, or keys from another issuer), or it
    refused the PSAM's answer."""


def get_challenge() -> bytes:
    return bytes([0x00, 0x84, 0x00, 0x00, CHALLENGE_BYTES])


def internal_authenticate(data: bytes, le: int) -> bytes:
    return bytes([0x00, 0x88, 0x00, 0x00, len(data)]) + data + bytes([le])


def external_authenticate(data: bytes) -> bytes:
    return bytes([0x00, 0x82, 0x00, 0x00, len(data)]) + data


def select_psam(psam: apdu.Transport, *, t0: bool) -> None:
    """SELECT the PSAM application; PsamUnavailable if the SAM slot holds something else."""
    # P2 = 0C: no FCI wanted, so a T=0 PSAM answers at once (no 61xx / GET RESPONSE round).
    select = bytes([0x00, 0xA4, 0x04, 0x0C, len(PSAM_AID)]) + PSAM_AID
    response = apdu.transmit(psam, select, t0=t0, check=None)
    if response.sw != apdu.SW_OK and response.sw1 not in (0x62, 0x63):
        raise PsamUnavailable(f"no PSAM application (SELECT answered {response.sw:04X})")


def authenticate(
    card: apdu.Transport, psam: apdu.Transport, card_id: bytes, *, card_t0: bool, psam_t0: bool,
) -> None:
    """Steps 1 and 2 above, the PSAM application already selected. Raises PsamUnavailable
    when the PSAM misbehaves and CardAuthenticationFailed when the card does."""

    def on_psam(command: bytes, expect: int | None = None) -> bytes:
        response = apdu.transmit(psam, command, t0=psam_t0, check=None)
        if response.sw == 0x6300:
            raise CardAuthenticationFailed("the PSAM did not accept the card's cryptogram")
        if response.sw != apdu.SW_OK or (expect is not None and len(response.data) != expect):
            raise PsamUnavailable(f"the PSAM answered {response.sw:04X}")
        return response.data

    def on_card(command: bytes, expect: int | None = None) -> bytes:
        response = apdu.transmit(card, command, t0=card_t0, check=None)
        if response.sw != apdu.SW_OK or (expect is not None and len(response.data) != expect):
            raise CardAuthenticationFailed(f"the card answered {response.sw:04X}")
        return response.data

    r1 = on_psam(get_challenge(), CHALLENGE_BYTES)
    c1 = on_card(internal_authenticate(r1, CRYPTOGRAM_BYTES), CRYPTOGRAM_BYTES)
    on_psam(external_authenticate(card_id + c1))
    r2 = on_card(get_challenge(), CHALLENGE_BYTES)
    c2 = on_psam(internal_authenticate(card_id + r2, CRYPTOGRAM_BYTES), CRYPTOGRAM_BYTES)
    on_card(external_authenticate(c2))
