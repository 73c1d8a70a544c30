"""A virtual PSAM (the terminal's secure access module) for the SAM slot.

It holds the simulated master keys (simulators/card/keys.py) and derives each card's keys from
the card identification code, as a real PSAM does. Card authentication for a generation 3 card,
driven by the terminal:

1. PSAM  GET CHALLENGE            `00 84 00 00 08`               -> R1
2. card  INTERNAL AUTHENTICATE    `00 88 00 00 08 R1 00`         -> C1 (the card's cryptogram)
3. PSAM  EXTERNAL AUTHENTICATE    `00 82 00 00 20 card id || C1` -> 9000 when C1 is genuine
   (the card is the external party proving itself to the PSAM; 6300 otherwise)
4. card  GET CHALLENGE            `00 84 00 00 08`               -> R2
5. PSAM  INTERNAL AUTHENTICATE    `00 88 00 00 18 card id || R2 10` -> C2, only for the card
   that passed step 3 (so the PSAM is no oracle for card keys it has not met: 6982)
6. card  EXTERNAL AUTHENTICATE    `00 82 00 00 10 C2`            -> 9000: EF06 is open

SELECT by AID `D15600000590` (the MOHRSS PSAM application) comes first; 6985 when a command
needs a state the PSAM is not in. `keys_label` other than the default makes a PSAM with a
foreign key set: every card fails step 3.
"""

from __future__ import annotations

import hmac
import os
import threading
from dataclasses import dataclass, field

from simulators.card import keys
from simulators.card.applet import (
    SW_AUTH_FAILED,
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS,
    SW_FILE_NOT_FOUND,
    SW_INS_NOT_SUPPORTED,
    SW_OK,
    SW_SECURITY,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    Command,
    Transmission,
    make_atr,
)
from simulators.card.transmission import answer, get_response

PSAM_AID = bytes.fromhex("D15600000590")


@dataclass
class _PsamSession:
    selected: bool = False
    pending: bytes = b""
    challenge: bytes = b""
    card_verified: bytes = b""  # the card id that passed EXTERNAL AUTHENTICATE


@dataclass(repr=False)
class PsamCard:
    protocol: Transmission = "T=0"
    keys_label: str = keys.DEFAULT_LABEL
    terminal_number: str = "000000000001"  # 6 bytes BCD on real PSAMs; shown in the FCI
    commands: list[bytes] = field(default_factory=list)
    _session: _PsamSession = field(default_factory=_PsamSession)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    kind = "psam"

    def __post_init__(self) -> None:
        if self.protocol not in ("T=0", "T=1"):
            raise ValueError("protocol must be 'T=0' or 'T=1'")

    def __repr__(self) -> str:
        return f"PsamCard(protocol={self.protocol}, keys={self.keys_label})"

    @property
    def atr(self) -> bytes:
        return make_atr(self.protocol, b"HRSS PSAM")

    def power_on(self) -> None:
        self.reset()

    def power_off(self) -> None:
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._session = _PsamSession()

    def process(self, raw: bytes) -> bytes:
        with self._lock:
            self.commands.append(bytes(raw))
            command = Command.parse(raw)
            if command is None:
                return SW_WRONG_LENGTH
            if command.cla != 0x00:
                return SW_CLA_NOT_SUPPORTED
            challenge = self._session.challenge
            if command.ins != 0xC0:
                self._session.pending = b""
                self._session.challenge = b""
            handler = {
                0xA4: self._select,
                0xC0: self._get_response,
                0x84: self._get_challenge,
                0x82: lambda c: self._external_authenticate(c, challenge),
                0x88: self._internal_authenticate,
            }.get(command.ins)
            return handler(command) if handler else SW_INS_NOT_SUPPORTED

    def _outgoing(self, command: Command, data: bytes, case4: bool) -> bytes:
        return answer(self._session, command, data, t0=self.protocol == "T=0", case4=case4)

    def _get_response(self, command: Command) -> bytes:
        return get_response(self._session, command, t0=self.protocol == "T=0")

    def _select(self, command: Command) -> bytes:
        if command.p1 != 0x04:
            return SW_FILE_NOT_FOUND if command.p1 in (0x00, 0x02) else SW_WRONG_P1P2
        if command.data != PSAM_AID:
            self._session = _PsamSession()
            return SW_FILE_NOT_FOUND
        self._session = _PsamSession(selected=True)
        fci = bytes([0x6F, 2 + len(PSAM_AID) + 8, 0x84, len(PSAM_AID)]) + PSAM_AID
        fci += bytes([0xA5, 6, 0x9F, 0x0C, 3]) + bytes.fromhex(self.terminal_number[:6])
        if command.p2 & 0x0C == 0x0C:
            return SW_OK
        return self._outgoing(command, fci, case4=True)

    def _get_challenge(self, command: Command) -> bytes:
        if not self._session.selected:
            return SW_CONDITIONS
        if command.le is None or command.expected != keys.CHALLENGE_BYTES:
            return b"\x6c" + bytes([keys.CHALLENGE_BYTES])
        self._session.challenge = os.urandom(keys.CHALLENGE_BYTES)
        return self._session.challenge + SW_OK

    def _external_authenticate(self, command: Command, challenge: bytes) -> bytes:
        """The card proves itself: card id || its cryptogram of our last challenge."""
        if not self._session.selected or not challenge:
            return SW_CONDITIONS
        if len(command.data) != keys.CARD_ID_BYTES + keys.CRYPTOGRAM_BYTES:
            return SW_WRONG_LENGTH
        card_id, answer = command.data[: keys.CARD_ID_BYTES], command.data[keys.CARD_ID_BYTES :]
        expected = keys.cryptogram(keys.card_key("IAK", card_id, self.keys_label), challenge)
        if not hmac.compare_digest(answer, expected):
            self._session.card_verified = b""
            return SW_AUTH_FAILED
        self._session.card_verified = card_id
        return SW_OK

    def _internal_authenticate(self, command: Command) -> bytes:
        """Our cryptogram of the card's challenge, for the card that proved itself."""
        if not self._session.selected:
            return SW_CONDITIONS
        if len(command.data) != keys.CARD_ID_BYTES + keys.CHALLENGE_BYTES:
            return SW_WRONG_LENGTH
        card_id, challenge = command.data[: keys.CARD_ID_BYTES], command.data[keys.CARD_ID_BYTES :]
        if not self._session.card_verified or not hmac.compare_digest(
            card_id, self._session.card_verified
        ):
            return SW_SECURITY
        answer = keys.cryptogram(keys.card_key("EAK", card_id, self.keys_label), challenge)
        return self._outgoing(command, answer, case4=True)
