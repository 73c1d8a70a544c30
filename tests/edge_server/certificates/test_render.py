"""The certificate PDF itself: A4, the CJK font embedded, its Chinese text readable back (pypdf
and poppler), the QR code decodes to the verify URL; the PAdES signature verifies with pyHanko
and poppler, and fails once a byte is flipped, an update is appended, or another CA signed it;
the receipt version fits the printer's ReceiptDocument."""

import datetime as dt
import io
import shutil
import subprocess
from decimal import Decimal

import pytest
from pyhanko.pdf_utils.generic import pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader

from drivers.printer.interface import ReceiptDocument, ReceiptLine
from edge_server.central import CentralPayment, CentralPerson
from edge_server.certificates import codes, content, pki, receipt, render, signing
from edge_server.certificates.content import CentralContribution

FONT = render.Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
CITIZEN_ID = "11010519491231002X"
# 䶮 (Ext-A) is not in WenQuanYi Micro Hei: it comes from the fallback font, not dropped.
NAME = "欧阳䶮娜"
A4 = (595.28, 841.89)


def creds_in(directory) -> pki.OfficeCredentials:
    pki._make_dev_pair(directory / "office.key.pem", directory / "office.cert.pem",
                       directory / "root.cert.pem")
    return pki._load(directory / "office.key.pem", directory / "office.cert.pem",
                     directory / "root.cert.pem")


def person() -> CentralPerson:
    return CentralPerson.model_validate({
        "citizen_id": CITIZEN_ID, "name": NAME, "gender": "2", "birth_date": "1949-12-31",
        "cards": [], "participation": [
            {"scheme": "employee-pension", "scheme_name": "企业职工基本养老保险",
             "status": "receiving", "since": "1980-03"},
            {"scheme": "medical", "scheme_name": "职工基本医疗保险", "status": "contributing",
             "since": "1999-01"}]})


def rights_record(code: str) -> content.CertificateContent:
    payments = [CentralPayment(period=f"2026-{m:02d}", amount=Decimal("3210.50"),
                               paid_on=dt.date(2026, m, 15), status="paid", bank="中国工商银行",
                               account="6222020200001234") for m in range(1, 11)]
    contributions = [CentralContribution(period=f"2025-{m:02d}", scheme="medical",
                                         base=Decimal("6210.00"), personal=Decimal("124.20"),
                                         employer=Decimal("496.80"), status="paid")
                     for m in range(1, 13)]
    return content.build(
        kind="rights-record", code=code, issued_at=NOW, office_name=pki.DEV_OFFICE,
        office_id=pki.DEV_OFFICE_ID, person=person(), as_of=NOW, stale=True,
        payments=payments, contributions=contributions,
        verify_url=f"http://edge.example:8200/verify/{code}")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    creds = creds_in(directory)
    code = codes.new_code()
    doc = rights_record(code)
    unsigned = render.render_pdf(doc, FONT)
    signed = signing.sign_pdf(unsigned, creds, reason="个人权益记录", location=pki.DEV_OFFICE)
    path = directory / "cert.pdf"
    path.write_bytes(signed)
    return creds, code, doc, unsigned, signed, path


def test_the_pdf_is_one_a4_page_with_the_cjk_font_embedded(made):
    *_, signed, _path = made
    reader = PdfReader(io.BytesIO(signed))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width), 1), round(float(box.height), 1)) == (595.3, 841.9)
    fonts = reader.pages[0]["/Resources"]["/Font"]
    embedded = []
    for ref in fonts.values():
        font = ref.get_object()
        descendant = font["/DescendantFonts"][0].get_object()
        descriptor = descendant["/FontDescriptor"].get_object()
        embedded.append(("/FontFile2" in descriptor, str(font["/BaseFont"])))
    assert any(ok and "WenQuanYiMicroHei" in name for ok, name in embedded)
    assert all(ok for ok, _ in embedded)


def test_the_chinese_text_reads_back_with_pypdf_and_poppler(made):
    _, code, _doc, _, signed, path = made
    text = PdfReader(io.BytesIO(signed)).pages[0].extract_text()
    poppler = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    for found in (text, poppler):
        squeezed = "".join(found.split())
        for expected in ("个人权益记录", NAME, CITIZEN_ID, "企业职工基本养老保险", "缴费记录",
                         "待遇发放", "3210.50", "6222****1234", code, pki.DEV_OFFICE,
                         "数据来自缓存"):
            assert expected in squeezed, expected
        assert "6222020200001234" not in squeezed  # accounts are masked even on the A4


def test_the_qr_code_decodes_to_the_verify_url(made, tmp_path):
    *_, path = made
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(path),
                    str(tmp_path / "page")], check=True, timeout=60)
    decoded = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "page.png")],
                             capture_output=True, text=True, timeout=60, check=False).stdout
    assert decoded.strip() == made[2].verify_url


def test_the_code_is_in_the_document_info(made):
    _, code, _, unsigned, signed, _ = made
    assert PdfReader(io.BytesIO(unsigned)).metadata.subject == render.subject_for(code)
    assert signing.verify_pdf(signed, made[0]).code == code


def test_pyhanko_verifies_the_signature_against_the_root(made):
    creds, *_, signed, _ = made
    embedded = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    assert len(embedded) == 1
    context = ValidationContext(trust_roots=[creds.asn1_root()], allow_fetching=False)
    status = validate_pdf_signature(embedded[0], context)
    assert status.bottom_line and status.intact and status.trusted
    assert "UNTOUCHED" in status.summary()
    assert signing.verify_pdf(signed, creds).status == "valid"


def test_poppler_checks_the_signature_offline(made):
    *_, path = made
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=30,
                         check=False).stdout
    assert "Signature is Valid." in out and "Total document signed" in out


def test_one_flipped_byte_breaks_the_signature(made):
    creds, *_, signed, _ = made
    at = signed.index(b"/CreationDate") + 20  # inside the signed byte range
    tampered = bytearray(signed)
    tampered[at] ^= 0x01
    context = ValidationContext(trust_roots=[creds.asn1_root()], allow_fetching=False)
    status = validate_pdf_signature(
        PdfFileReader(io.BytesIO(bytes(tampered))).embedded_signatures[0], context)
    assert not status.bottom_line and not status.intact
    assert signing.verify_pdf(bytes(tampered), creds).status == "signature-invalid"


def test_an_update_appended_after_signing_is_a_modification(made):
    creds, *_, signed, _ = made
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    writer.root["/Lang"] = pdf_string("en")  # any change, in a new revision
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    verdict = signing.verify_pdf(out.getvalue(), creds)
    assert verdict.status in {"modified", "signature-invalid"} and not verdict.valid


def test_another_ca_is_not_trusted_and_an_unsigned_pdf_has_no_signature(made, tmp_path):
    creds, _, _, unsigned, signed, _ = made
    stranger = creds_in(tmp_path)
    forged = signing.sign_pdf(unsigned, stranger, reason="forged", location="elsewhere")
    assert signing.verify_pdf(forged, creds).status == "untrusted"
    assert signing.verify_pdf(unsigned, creds).status == "no-signature"
    for junk in (b"", b"%PDF-1.7\n", b"\x00" * 1000, signed[:2000], b"%PDF-1.4\n1 0 obj <<"):
        assert signing.verify_pdf(junk, creds).status in {"not-a-pdf", "no-signature"}


def test_the_receipt_version_fits_the_printer_document(made):
    _, code, doc, *_ = made
    view = receipt.receipt(doc)
    document = ReceiptDocument(
        title=view.title, lines=tuple(ReceiptLine(**line.model_dump()) for line in view.lines),
        qr=view.qr, footer=view.footer)
    texts = [line.text for line in document.lines]
    assert document.qr == doc.verify_url and code in document.footer
    assert any(NAME in t for t in texts)
    assert not any(CITIZEN_ID in t for t in texts)  # the slip shows the ID masked
    assert any("110105********002X" in t for t in texts)
    assert all(receipt._text_width(t) <= receipt.COLUMNS for t in texts)
    assert any("124.20" in t or "1490.40" in t for t in texts)  # the contributions' sums


def test_a_slip_names_each_amount_by_its_column():
    columns = ["险种", "年度", "缴费情况", "个人缴费(元)", "单位缴费(元)"]
    line = receipt.row_text(columns, ["养老", "2026", "已缴12期", "1000.00", "1600.00"])
    assert line == "养老 2026 已缴12期 个人缴费1000.00元 单位缴费1600.00元"
    assert receipt.row_text(["a"], ["x", "y"]) == "x y"  # a row longer than its headings


def test_a_long_record_is_cut_to_the_receipt_limit(made):
    doc = made[2]
    long_section = content.Section("缴费记录", ["a"], [["很长的一行" * 20]] * 150)
    cut = receipt.receipt(content.CertificateContent.from_json(
        {**doc.to_json(), "sections": [vars(long_section)]}))
    assert len(cut.lines) == receipt.MAX_LINES
    assert "余下内容" in cut.lines[-1].text


def test_codes_carry_a_check_character():
    code = codes.new_code()
    assert codes.normalise(code) == code
    assert codes.normalise(code.lower().replace("-", " ")) == code
    changed = ("3" if code[0] != "3" else "4") + code[1:]
    assert codes.normalise(changed) is None
    for i in range(len(code) - 1):  # every neighbour swap that changes the code is caught
        if "-" in code[i:i + 2] or code[i] == code[i + 1]:
            continue
        swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
        assert codes.normalise(swapped) is None, swapped
    # every single-character change too
    for i, ch in enumerate(code):
        if ch != "-":
            for other in codes.ALPHABET.replace(ch, ""):
                assert codes.normalise(code[:i] + other + code[i + 1:]) is None
    for junk in ("", "x" * 65, "0000-0000-0000-0000", "ＡＢＣＤ", "../../etc/passwd"):
        assert codes.normalise(junk) is None


def test_the_tools_the_tests_use_are_installed():
    for tool in ("pdftotext", "pdftoppm", "pdfsig", "zbarimg"):
        assert shutil.which(tool), f"{tool}: apt-get install poppler-utils zbar-tools"


def test_a_character_no_font_has_is_counted_not_named_in_the_log(made, caplog):
    doc = made[2]
    rare = "\U0002a6a5"  # CJK Ext-B: in neither WenQuanYi Micro Hei nor Droid Sans Fallback
    assert render._missing_count(rare, FONT, render.FALLBACK_FONT) == 1
    odd = content.CertificateContent.from_json({**doc.to_json(), "name": "张" + rare})
    with caplog.at_level("WARNING"):
        pdf = render.render_pdf(odd, FONT)
    assert pdf.startswith(b"%PDF")
    assert "1 characters" in caplog.text
    assert rare not in caplog.text and "张" not in caplog.text
