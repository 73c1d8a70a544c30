"""The document-signing CA (provisioning/ca.py): a root made once, office certificates with the
key usage a PDF signer needs, keys 0600, the CLI, and an edge that signs with what it issued."""

import datetime as dt
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from edge_server.certificates import pki, signing
from edge_server.settings import EdgeSettings
from kioskctl.cli import app
from provisioning import ca

PROVINCE = "示例省人力资源和社会保障厅"
OFFICE = "示例市社会保险事业管理中心"


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def load(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.fixture
def ca_dir(tmp_path):
    directory = tmp_path / "ca"
    ca.init_ca(directory, PROVINCE)
    return directory


def test_the_root_is_a_ca_for_offices_only_and_its_key_is_private(ca_dir):
    root = load(ca_dir / ca.ROOT_CERT)
    assert mode(ca_dir / ca.ROOT_KEY) == 0o600
    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == PROVINCE
    root.verify_directly_issued_by(root)


def test_a_second_init_never_replaces_the_root(ca_dir):
    before = (ca_dir / ca.ROOT_KEY).read_bytes()
    with pytest.raises(ca.CaError, match="refusing"):
        ca.init_ca(ca_dir, PROVINCE)
    assert (ca_dir / ca.ROOT_KEY).read_bytes() == before


def test_an_office_certificate_signs_documents_and_chains_to_the_root(ca_dir, tmp_path):
    files = ca.issue_office(ca_dir, tmp_path / "office", "110100", OFFICE)
    cert, root = load(files.cert), load(files.root)
    assert mode(files.key) == 0o600
    cert.verify_directly_issued_by(root)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ca.DOCUMENT_SIGNING in eku and ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == (
        "110100")
    assert cert.not_valid_after_utc <= root.not_valid_after_utc


def test_bad_names_and_ids_are_refused(ca_dir, tmp_path):
    with pytest.raises(ca.CaError):
        ca.issue_office(ca_dir, tmp_path / "o", "110/100", OFFICE)
    with pytest.raises(ca.CaError):
        ca.issue_office(ca_dir, tmp_path / "o", "110100", "长" * 30)  # > 64 bytes of UTF-8
    with pytest.raises(ca.CaError, match="no CA"):
        ca.issue_office(tmp_path / "nothing", tmp_path / "o", "110100", OFFICE)


def test_a_root_key_that_is_not_the_certificates_is_refused(ca_dir, tmp_path):
    other = tmp_path / "other"
    ca.init_ca(other, PROVINCE)
    (ca_dir / ca.ROOT_CERT).write_bytes((other / ca.ROOT_CERT).read_bytes())
    with pytest.raises(ca.CaError, match="do not belong"):
        ca.issue_office(ca_dir, tmp_path / "o", "110100", OFFICE)


def test_the_cli_makes_a_ca_and_an_office(tmp_path):
    runner = CliRunner()
    directory, out = tmp_path / "ca", tmp_path / "office"
    result = runner.invoke(app, ["provision", "ca", "init", "--dir", str(directory),
                                 "--name", PROVINCE])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["provision", "ca", "init", "--dir", str(directory),
                                "--name", PROVINCE])
    assert again.exit_code == 1
    result = runner.invoke(app, ["provision", "ca", "issue-office", "--dir", str(directory),
                                 "--office-id", "110100", "--name", OFFICE,
                                 "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert "certificate_office_key_file=" in result.output
    assert {p.name for p in out.iterdir()} == {ca.OFFICE_KEY, ca.OFFICE_CERT, ca.ROOT_CERT}
    bad = runner.invoke(app, ["provision", "ca", "issue-office", "--dir", str(tmp_path / "x"),
                              "--office-id", "1", "--name", OFFICE, "--out-dir", str(out)])
    assert bad.exit_code == 2


def test_an_edge_signs_with_the_issued_office_and_verifies_against_the_root(ca_dir, tmp_path):
    files = ca.issue_office(ca_dir, tmp_path / "office", "110100", OFFICE)
    settings = EdgeSettings(
        data_dir=tmp_path / "edge", hall_secret="x", central_api_key="k",
        certificate_office_key_file=files.key, certificate_office_cert_file=files.cert,
        certificate_root_file=files.root)
    creds = pki.office_credentials(settings)
    assert (creds.office_name, creds.office_id, creds.dev) == (OFFICE, "110100", False)
    assert not (tmp_path / "edge" / "certificates").exists()  # no development CA made
    from fpdf import FPDF

    doc = FPDF()
    doc.add_page()
    signed = signing.sign_pdf(bytes(doc.output()), creds, reason="test", location=OFFICE)
    verdict = signing.verify_pdf(signed, creds)
    assert verdict.valid and verdict.signer == "110100 电子印章"


def test_an_edge_with_configured_but_missing_files_does_not_sign(tmp_path):
    settings = EdgeSettings(
        data_dir=tmp_path / "edge", hall_secret="x", central_api_key="k",
        certificate_office_key_file=tmp_path / "missing.pem")
    with pytest.raises(pki.CertificatesUnavailable):
        pki.office_credentials(settings)
    assert not (tmp_path / "edge" / "certificates").exists()


def test_office_certificates_issued_later_are_valid_from_now(ca_dir, tmp_path):
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    files = ca.issue_office(ca_dir, tmp_path / "o", "110100", OFFICE, now=now)
    assert load(files.cert).not_valid_before_utc == now - dt.timedelta(minutes=5)
