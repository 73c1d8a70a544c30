"""Terminal signatures: canonical bytes, sign/verify round trip, and every way a peer's input
can be wrong answers False (never raises)."""

import base64
import hashlib
import os
import stat

import pytest

from common import signing

RECORD = {"citizen_id": "110105194912310021", "certified_at": "2026-11-22T02:00:00Z",
          "method": "hall", "device_id": "kiosk-01", "location": "朝阳区社保大厅",
          "staff_id": None, "evidence_sha256": "ab" * 32, "result": "passed",
          "liveness_version": "1.0"}


@pytest.fixture
def key(tmp_path):
    public = signing.generate_device_key(tmp_path / "device.signing-key.pem")
    return signing.load_device_key(tmp_path / "device.signing-key.pem"), public


def test_canonical_is_sorted_compact_ascii_without_the_signature():
    text = signing.canonical({"b": 1, "a": "认证", "signature": "x"})
    assert text == b'{"a":"\\u8ba4\\u8bc1","b":1}'


def test_evidence_sha256_is_what_the_face_driver_names_evidence_by():
    from drivers.face.evidence import canonical_json

    document = {"models": {"encoder": "dlib-ü"}, "steps": [{"score": 0.1}], "reason": None}
    assert signing.canonical(document) == canonical_json(document)


def test_canonical_refuses_what_json_cannot_carry_exactly():
    with pytest.raises(ValueError):
        signing.canonical({"x": float("nan")})
    with pytest.raises(ValueError):
        signing.canonical({"x": object()})


def test_a_signed_record_verifies_and_any_change_does_not(key):
    private, public = key
    signature = signing.sign(private, RECORD)
    assert signing.verify(public, {**RECORD, "signature": signature}, signature)
    assert not signing.verify(public, {**RECORD, "location": "别处"}, signature)
    assert not signing.verify(public, {**RECORD, "staff_id": "S001"}, signature)
    other = signing.public_key_b64(signing.Ed25519PrivateKey.generate())
    assert not signing.verify(other, RECORD, signature)


@pytest.mark.parametrize("bad_key, bad_signature", [
    ("not base64!", None), ("", None), (base64.b64encode(b"short").decode(), None),
    ("A" * 5000, None), (None, "not base64!"), (None, base64.b64encode(b"x" * 63).decode()),
    (None, ""), (None, 12345),
])
def test_malformed_keys_and_signatures_are_false_not_errors(key, bad_key, bad_signature):
    private, public = key
    good = signing.sign(private, RECORD)
    assert signing.verify(bad_key if bad_key is not None else public, RECORD,
                          bad_signature if bad_signature is not None else good) is False


def test_a_payload_json_cannot_carry_is_false(key):
    private, public = key
    signature = signing.sign(private, RECORD)
    assert signing.verify(public, {**RECORD, "x": float("inf")}, signature) is False


def test_the_key_file_is_owner_only_and_never_replaced(tmp_path):
    path = tmp_path / "k.pem"
    first = signing.generate_device_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(FileExistsError):
        signing.generate_device_key(path)
    assert signing.public_key_b64(signing.load_device_key(path)) == first


def test_a_file_with_another_kind_of_key_is_refused(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    (tmp_path / "ec.pem").write_bytes(pem)
    with pytest.raises(ValueError):
        signing.load_device_key(tmp_path / "ec.pem")


def test_evidence_sha256_is_of_the_canonical_json():
    evidence = {"version": "1", "frames": [{"role": "baseline", "jpeg": "AAAA"}], "x": 0.25}
    expected = hashlib.sha256(signing.canonical(evidence)).hexdigest()
    assert signing.evidence_sha256(evidence) == expected
    assert signing.evidence_sha256(dict(reversed(list(evidence.items())))) == expected
