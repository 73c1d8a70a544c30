"""The office's signing key and certificate, and the province root that verifies them.

Files come from provisioning's CA (`kioskctl provision ca issue-office`). When the settings name
none (the default paths beside the data key) and nothing is there, a *development* CA is made
once, as the data key is: tests and the demo need no provisioning step, and its names say
"开发测试" so that nobody mistakes it for a province's. Paths set explicitly must exist: a
production edge never signs with a key it made up.

edge_server may not import provisioning (the folder rules), so the few lines that build the
development pair live here; provisioning/ca.py is the real CA with the same extensions.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from common.clock import utc_now
from common.files import create_once
from edge_server.settings import EdgeSettings

ROOT_CERT = "root.cert.pem"
OFFICE_KEY = "office.key.pem"
OFFICE_CERT = "office.cert.pem"
DEV_PROVINCE = "开发测试省人力资源和社会保障厅"
DEV_OFFICE = "开发测试市社会保险事业管理中心"
DEV_OFFICE_ID = "DEV-000000"
_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
_MAX_PEM = 64 * 1024

log = logging.getLogger(__name__)


class CertificatesUnavailable(RuntimeError):
    """No usable office key, certificate or root (missing, unreadable, not a pair)."""


@dataclass(frozen=True)
class OfficeCredentials:
    key: ec.EllipticCurvePrivateKey = field(repr=False)
    cert: x509.Certificate
    root: x509.Certificate
    office_name: str
    office_id: str
    dev: bool

    def asn1_cert(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))

    def asn1_root(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.root.public_bytes(serialization.Encoding.DER))

    def asn1_key(self) -> asn1_keys.PrivateKeyInfo:
        der = self.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        return asn1_keys.PrivateKeyInfo.load(der)


def paths(settings: EdgeSettings) -> tuple[Path, Path, Path, bool]:
    """(key, cert, root, all defaulted): the defaults sit beside the data key."""
    home = settings.key_file.parent / "certificates"
    chosen = (settings.certificate_office_key_file, settings.certificate_office_cert_file,
              settings.certificate_root_file)
    defaulted = all(p is None for p in chosen)
    key, cert, root = (p or home / name for p, name in
                       zip(chosen, (OFFICE_KEY, OFFICE_CERT, ROOT_CERT), strict=True))
    return key, cert, root, defaulted


_lock = threading.Lock()
_loaded: dict[tuple[Path, Path, Path], OfficeCredentials] = {}


def office_credentials(settings: EdgeSettings) -> OfficeCredentials:
    """Loaded once per process and set of paths (the files change only with a restart)."""
    key_path, cert_path, root_path, defaulted = paths(settings)
    at = (key_path, cert_path, root_path)
    with _lock:
        found = _loaded.get(at)
        if found is None:
            if defaulted and not key_path.exists():
                _make_dev_pair(key_path, cert_path, root_path)
            found = _load(key_path, cert_path, root_path)
            if found.dev:
                log.warning("certificates are signed with a DEVELOPMENT CA (%s): not for a hall",
                            root_path)
            _loaded[at] = found
        return found


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(_MAX_PEM + 1)
    except OSError as exc:
        raise CertificatesUnavailable(f"{path}: {type(exc).__name__}") from None
    if len(data) > _MAX_PEM:
        raise CertificatesUnavailable(f"{path}: larger than a PEM file of ours")
    return data


def _load(key_path: Path, cert_path: Path, root_path: Path) -> OfficeCredentials:
    try:
        key = serialization.load_pem_private_key(_read(key_path), None)
        cert = x509.load_pem_x509_certificate(_read(cert_path))
        root = x509.load_pem_x509_certificate(_read(root_path))
    except ValueError as exc:
        raise CertificatesUnavailable(f"office files do not load: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificatesUnavailable("the office key is not an ECDSA key")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise CertificatesUnavailable("the office key and certificate are not a pair")
    if cert.issuer != root.subject:
        raise CertificatesUnavailable("the office certificate is not issued by the root")

    def attr(oid: ObjectIdentifier) -> str:
        found = cert.subject.get_attributes_for_oid(oid)
        value = found[0].value if found else ""
        return value if isinstance(value, str) else value.decode()

    office_name = attr(NameOID.ORGANIZATION_NAME)
    return OfficeCredentials(key=key, cert=cert, root=root, office_name=office_name,
                             office_id=attr(NameOID.ORGANIZATIONAL_UNIT_NAME),
                             dev=office_name == DEV_OFFICE)


def _name(org: str, cn: str, unit: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if unit:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _usage(*, sign_docs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign_docs, content_commitment=sign_docs, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=not sign_docs,
        crl_sign=not sign_docs, encipher_only=False, decipher_only=False)


def _make_dev_pair(key_path: Path, cert_path: Path, root_path: Path,
                   now: dt.datetime | None = None) -> None:
    # Backdated a year: tests run on a fake clock in the past.
    start = (now or utc_now()) - dt.timedelta(days=365)
    end = start + dt.timedelta(days=365 * 11)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(DEV_PROVINCE, "电子证明根证书（开发测试）")
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign_docs=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(DEV_OFFICE, f"{DEV_OFFICE_ID} 电子印章", DEV_OFFICE_ID))
        .issuer_name(root_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign_docs=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(
            [_DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    # Certificates first, the key last and create-once: the key is the "done" marker, and two
    # edge processes starting at once keep one pair (the loser's certificates are rewritten by
    # the winner's only if it also lost the key race, which create_once rules out).
    if key_path.exists():
        return
    tmp_suffix = f".{secrets.token_hex(4)}.tmp"
    cert_tmp = cert_path.with_name(cert_path.name + tmp_suffix)
    root_tmp = root_path.with_name(root_path.name + tmp_suffix)
    cert_tmp.parent.mkdir(parents=True, exist_ok=True)
    root_tmp.parent.mkdir(parents=True, exist_ok=True)
    cert_tmp.write_bytes(cert.public_bytes(pem))
    root_tmp.write_bytes(root.public_bytes(pem))
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    if create_once(key_path, key_pem, mode=0o600):
        cert_tmp.replace(cert_path)
        root_tmp.replace(root_path)
        log.warning("made a development CA and office certificate in %s", key_path.parent)
    else:
        cert_tmp.unlink(missing_ok=True)
        root_tmp.unlink(missing_ok=True)
