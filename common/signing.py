"""Terminal signatures (Ed25519): a certification record is signed by the terminal that saw the
citizen, so neither the edge nor anything between it and central can make or change one.

A device key is one PKCS8 PEM file beside the device file (provisioning/device_keys.py), owner
only. What is signed is `canonical(payload)`: JSON with sorted keys, no spaces, UTF-8, the
`signature` key left out, non-ASCII escaped (the same bytes as drivers.face's
`canonical_json`, so `LivenessEvidence.sha256()` equals `evidence_sha256`); the signature
travels in the payload as standard base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from common.files import create_once

SIGNATURE_FIELD = "signature"
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
_MAX_B64 = 128  # a base64 public key is 44 characters, a signature 88


def canonical(payload: dict[str, Any]) -> bytes:
    """The bytes a signature covers: `payload` without its signature, as canonical JSON.

    Raises ValueError for what JSON cannot carry exactly (NaN, infinities, non-string keys).
    """
    rest = {k: v for k, v in payload.items() if k != SIGNATURE_FIELD}
    try:
        text = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          allow_nan=False)
    except TypeError as exc:
        raise ValueError(f"not canonical JSON: {exc}") from None
    return text.encode()


def evidence_sha256(evidence: dict[str, Any]) -> str:
    """The hash a certification record names its evidence by (hex): of `canonical(evidence)`."""
    return hashlib.sha256(canonical(evidence)).hexdigest()


def generate_device_key(path: Path) -> str:
    """Create a device key at `path` (0600, never replaced: FileExistsError); its public key
    (base64) is returned for registration with central."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    if not create_once(path, pem, mode=0o600):
        raise FileExistsError(f"{path} exists; a device key is never replaced in place")
    return public_key_b64(key)


def load_device_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 key")
    return key


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign(key: Ed25519PrivateKey, payload: dict[str, Any]) -> str:
    return base64.b64encode(key.sign(canonical(payload))).decode()


def _decode(text: object, size: int) -> bytes | None:
    if not isinstance(text, str) or len(text) > _MAX_B64:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def valid_public_key(public_key_b64: object) -> bool:
    return _decode(public_key_b64, PUBLIC_KEY_BYTES) is not None


def verify(public_key_b64: str, payload: dict[str, Any], signature: str) -> bool:
    """True when `signature` is the key's over `payload`; False for anything else (a malformed
    key, signature or payload included): input from a peer never raises here."""
    raw_key = _decode(public_key_b64, PUBLIC_KEY_BYTES)
    raw_signature = _decode(signature, SIGNATURE_BYTES)
    if raw_key is None or raw_signature is None:
        return False
    try:
        message = canonical(payload)
        Ed25519PublicKey.from_public_bytes(raw_key).verify(raw_signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
