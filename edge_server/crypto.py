"""Personal data at rest: the data key, AES-GCM sealing, and keyed hashes of citizen IDs.

One 32-byte data key per edge server (a file, 0600) is the root of two derived keys: one
encrypts, the other makes the keyed hash that indexes the cache. Keeping them apart means a
hash can never be used to attack the cipher, and the plain ID is never a database key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from common.files import create_once

KEY_BYTES = 32
NONCE_BYTES = 12

log = logging.getLogger(__name__)


class DataKeyError(RuntimeError):
    """The data key file is unusable (wrong size); the server must not start with it."""


class SealError(RuntimeError):
    """A sealed value cannot be opened: other key, or tampered with."""


def load_or_create_key(path: Path) -> bytes:
    """Read the data key, creating it (0600) on first start.

    create_once: two processes starting at once agree on one key, and nobody ever reads a
    half-written file.
    """
    if not path.exists() and create_once(path, secrets.token_bytes(KEY_BYTES), mode=0o600):
        log.info("created a new data key at %s", path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("data key %s is readable by others (mode %o); chmod 600 it", path, mode & 0o777)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise DataKeyError(f"data key {path} must hold exactly {KEY_BYTES} bytes")
    return key


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes  # AES-GCM output: ciphertext then 16-byte tag


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)


class DataCipher:
    """Seals and opens personal data; `aad` binds a sealed value to the row it belongs to, so
    a ciphertext copied into another row does not open."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise DataKeyError(f"a data key has {KEY_BYTES} bytes")
        self.key_id = hashlib.sha256(b"hrss-edge key id\0" + key).hexdigest()[:16]
        self._aead = AESGCM(_derive(key, b"hrss-edge aes-256-gcm v1"))
        self._mac_key = _derive(key, b"hrss-edge citizen key v1")

    def citizen_key(self, citizen_id: str) -> str:
        """Keyed hash of a normalised citizen ID: finds a citizen's rows without storing the ID."""
        normalised = citizen_id.strip().upper().encode("ascii")
        return hmac.new(self._mac_key, normalised, hashlib.sha256).hexdigest()

    def seal(self, data: bytes, aad: str) -> Sealed:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return Sealed(self.key_id, nonce, self._aead.encrypt(nonce, data, aad.encode()))

    def open(self, sealed: Sealed, aad: str) -> bytes:
        if sealed.key_id != self.key_id:
            raise SealError(f"sealed with key {sealed.key_id}, not the current key")
        try:
            return self._aead.decrypt(sealed.nonce, sealed.ciphertext, aad.encode())
        except InvalidTag as exc:
            raise SealError("sealed value does not open (tampered, or another row's)") from exc

    def seal_json(self, value: Any, aad: str) -> Sealed:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return self.seal(text.encode(), aad)

    def open_json(self, sealed: Sealed, aad: str) -> Any:
        return json.loads(self.open(sealed, aad))
