"""The simulated key scheme shared by the virtual cards, the virtual PSAM and the stand-in
issuer (docs/simulators/card.md, "Keys").

Real social security cards diversify each card key from an issuer master key and the card's
identification code, and the PSAM holds the master keys so that it can derive any card's key
itself; the algorithms (3DES / SM4 with the RKSSSE key family) are in the non-public LD/T 32/33
key-management text. This is a stand-in with the same shape, built on AES-128 so that nobody
mistakes it for the real thing:

- master key of a purpose:  M_p = SHA-256("hrss-sim-master/1|" + label + "|" + p)[:16]
- card key:                 K_p(card) = AES-128-ECB(M_p, card identification code (16 bytes))
- authentication cryptogram: AES-128-ECB(K_p(card), challenge (8 bytes) || 80 00 .. 00)
- PIN reload / unblock MAC: AES-CMAC(K_RLK(card), header (4) || card id (16) || challenge (8))
  cut to 4 bytes. It covers the operation, the card and the card's one-time challenge, not the
  new PIN: the PIN never leaves the kiosk, and the authorisation is good for one command.

Purposes: IAK (the card proves itself to the PSAM: INTERNAL AUTHENTICATE to the card), EAK
(the terminal proves itself to the card: EXTERNAL AUTHENTICATE; RKSSSE's role), RLK (PIN
reload and unblock, held only by the issuer, never by a terminal).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

Purpose = Literal["IAK", "EAK", "RLK"]
DEFAULT_LABEL = "default"  # the key set of the simulated issuer; another label = foreign keys
CHALLENGE_BYTES = 8
CRYPTOGRAM_BYTES = 16
MAC_BYTES = 4
CARD_ID_BYTES = 16
RELOAD_HEADER = bytes.fromhex("805E0000")  # RELOAD PIN
UNBLOCK_HEADER = bytes.fromhex("84240000")  # PIN UNBLOCK
HEADERS = {"reload": RELOAD_HEADER, "unblock": UNBLOCK_HEADER}
# The stand-in issuer's staff: id -> code. A demo value, documented, not a secret.
DEFAULT_STAFF = {"S0001": "246810"}


def master_key(purpose: Purpose, label: str = DEFAULT_LABEL) -> bytes:
    return hashlib.sha256(f"hrss-sim-master/1|{label}|{purpose}".encode()).digest()[:16]


def _aes_block(key: bytes, block: bytes) -> bytes:
    # One block (a key diversification, a cryptogram): ECB's weakness needs several.
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305
    return encryptor.update(block) + encryptor.finalize()


def card_key(purpose: Purpose, card_id: bytes, label: str = DEFAULT_LABEL) -> bytes:
    """The card's own key, diversified from the master key by its identification code."""
    if len(card_id) != CARD_ID_BYTES:
        raise ValueError("a card identification code has 16 bytes")
    return _aes_block(master_key(purpose, label), card_id)


def cryptogram(key: bytes, challenge: bytes) -> bytes:
    """The answer to a challenge: ISO 9797-1 padding method 2, one AES block."""
    if len(challenge) != CHALLENGE_BYTES:
        raise ValueError("a challenge has 8 bytes")
    return _aes_block(key, challenge + b"\x80" + b"\x00" * 7)


def reload_mac(key: bytes, header: bytes, card_id: bytes, challenge: bytes) -> bytes:
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(header + card_id + challenge)
    return mac.finalize()[:MAC_BYTES]


class ReloadRefused(Exception):
    """The stand-in issuer will not authorise this reload (unknown staff, bad code, ...)."""


_HEX = re.compile(r"^[0-9A-Fa-f]*$")


@dataclass
class KeyCentre:
    """The stand-in issuer: holds the reload master key and the staff who may use it.

    `authorise(operation, card_id_code, challenge, staff_id, staff_code)` answers the 4-byte
    MAC the card wants for a RELOAD PIN or PIN UNBLOCK. In production this is the issuer's
    system behind the edge; the terminal never holds RLK.
    """

    label: str = DEFAULT_LABEL
    staff: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STAFF))

    def authorise(
        self, operation: str, card_id_code: str, challenge: str, staff_id: str, staff_code: str,
    ) -> bytes:
        header = HEADERS.get(operation)
        if header is None:
            raise ReloadRefused("unknown operation")
        if len(card_id_code) != 2 * CARD_ID_BYTES or not _HEX.match(card_id_code):
            raise ReloadRefused("not a card identification code")
        if len(challenge) != 2 * CHALLENGE_BYTES or not _HEX.match(challenge):
            raise ReloadRefused("not a card challenge")
        expected = self.staff.get(staff_id)
        if expected is None or not hmac.compare_digest(expected.encode(), staff_code.encode()):
            raise ReloadRefused("staff credential not accepted")
        card_id = bytes.fromhex(card_id_code)
        key = card_key("RLK", card_id, self.label)
        return reload_mac(key, header, card_id, bytes.fromhex(challenge))
