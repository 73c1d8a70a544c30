"""The province's document-signing CA: a root, and one signing certificate per office.

The offices' edge servers sign the certificates they issue (参保证明, 个人权益记录) as PAdES
with their office certificate; banks and employers check them offline against the root. Keys
are ECDSA P-256 (pyHanko, Adobe Reader and poppler all verify it; the national SM2 seals are
out of reach of `cryptography`, see print-notes §4).

Layout of a CA directory: `root.key.pem` (0600, stays with the provisioner) and
`root.cert.pem`. An office's directory: `office.key.pem` (0600), `office.cert.pem` and a copy
of `root.cert.pem`, the three files the edge's `certificate_*_file` settings name.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from common.clock import utc_now
from common.files import create_once, write_atomically

ROOT_KEY = "root.key.pem"
ROOT_CERT = "root.cert.pem"
OFFICE_KEY = "office.key.pem"
OFFICE_CERT = "office.cert.pem"

# RFC 9336 id-kp-documentSigning; and Adobe's "Authentic Documents Trust", which older Acrobat
# versions look for in a document signer.
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
ADOBE_AUTHENTIC_DOCUMENTS = ObjectIdentifier("1.2.840.113583.1.1.5")

ROOT_YEARS = 20
OFFICE_YEARS = 3
_OFFICE_ID = re.compile(r"^[0-9A-Za-z-]{1,32}$")
_MAX_NAME = 64


class CaError(RuntimeError):
    """The CA directory is missing, already there, or its files do not belong together."""


@dataclass(frozen=True)
class OfficeFiles:
    key: Path
    cert: Path
    root: Path


def _check_name(name: str) -> str:
    text = name.strip()
    # X.509 caps an organization name at 64 (UTF-8 bytes here): about 21 Chinese characters.
    if not 0 < len(text.encode()) <= _MAX_NAME or any(ord(c) < 0x20 for c in text):
        raise CaError(f"a name has 1..{_MAX_NAME} bytes (UTF-8) of printable characters")
    return text


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def build_root(name: str, *, now: dt.datetime,
               years: int = ROOT_YEARS) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed root that may sign office certificates only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _check_name(name)),
        x509.NameAttribute(NameOID.COMMON_NAME, "电子证明根证书"),
    ])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def build_office(
    root_key: ec.EllipticCurvePrivateKey, root_cert: x509.Certificate, office_id: str,
    name: str, *, now: dt.datetime, years: int = OFFICE_YEARS,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """An office's document-signing certificate: digitalSignature + contentCommitment
    (non-repudiation, which pyHanko requires of a signer by default), documentSigning EKU."""
    if not _OFFICE_ID.match(office_id):
        raise CaError("an office id has 1..32 of [0-9A-Za-z-]")
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _check_name(name)),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, office_id),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{office_id} 电子印章"),
    ])
    not_after = min(now + dt.timedelta(days=365 * years), root_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(root_cert.subject).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [DOCUMENT_SIGNING, ADOBE_AUTHENTIC_DOCUMENTS, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return key, cert


def init_ca(directory: Path, name: str, *, now: dt.datetime | None = None) -> Path:
    """Create the root in `directory`; refuses to replace one (offices' certificates chain to
    it). Returns the root certificate's path."""
    key, cert = build_root(name, now=now or utc_now())
    # The key first and create-once: two provisioners at once cannot both make a root.
    if not create_once(directory / ROOT_KEY, _key_pem(key), mode=0o600):
        raise CaError(f"{directory / ROOT_KEY} exists; refusing to replace a root in use")
    write_atomically(directory / ROOT_CERT, _cert_pem(cert), mode=0o644)
    return directory / ROOT_CERT


def load_root(directory: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    try:
        key = serialization.load_pem_private_key((directory / ROOT_KEY).read_bytes(), None)
        cert = x509.load_pem_x509_certificate((directory / ROOT_CERT).read_bytes())
    except FileNotFoundError as exc:
        raise CaError(f"no CA in {directory} (run `provision ca init`)") from exc
    except ValueError as exc:
        raise CaError(f"the CA files in {directory} do not load: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or (
            key.public_key().public_numbers() != cert.public_key().public_numbers()):  # type: ignore[union-attr]
        raise CaError(f"{ROOT_KEY} and {ROOT_CERT} in {directory} do not belong together")
    return key, cert


def issue_office(ca_dir: Path, out_dir: Path, office_id: str, name: str, *,
                 now: dt.datetime | None = None) -> OfficeFiles:
    """An office's key and certificate, with the root beside them, written to `out_dir`
    (the key 0600). An existing office key there is replaced (re-issue after expiry)."""
    root_key, root_cert = load_root(ca_dir)
    key, cert = build_office(root_key, root_cert, office_id, name, now=now or utc_now())
    files = OfficeFiles(out_dir / OFFICE_KEY, out_dir / OFFICE_CERT, out_dir / ROOT_CERT)
    write_atomically(files.key, _key_pem(key), mode=0o600)
    write_atomically(files.cert, _cert_pem(cert), mode=0o644)
    write_atomically(files.root, _cert_pem(root_cert), mode=0o644)
    return files
