"""PAdES signatures (pyHanko): the office signs each certificate PDF; /verify/pdf checks one
against the province root, offline (no fetching: a hall may have no internet).

PAdES B-B (no timestamp authority reachable from a hall; print-notes §4: B-T needs a TSA). The
verdict is pyHanko's `bottom_line`, not `intact`/`valid` alone: a byte flipped inside the signed
range leaves the CMS signature "valid" but the digest wrong, and an incremental update after
signing leaves both True but is an illegal modification (print-notes §4).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from edge_server.certificates.pki import OfficeCredentials
from edge_server.certificates.render import code_from_subject

FIELD = "OfficeSeal"

log = logging.getLogger(__name__)


def sign_pdf(pdf: bytes, creds: OfficeCredentials, *, reason: str, location: str) -> bytes:
    signer = signers.SimpleSigner(
        signing_cert=creds.asn1_cert(), signing_key=creds.asn1_key(),
        cert_registry=SimpleCertificateStore.from_certs([creds.asn1_root()]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason, location=location,
    )
    out = io.BytesIO()
    # An invisible field: the seal is drawn on the page already (render.py); pyHanko's own
    # stamp cannot lay out WenQuanYi's glyphs (print-notes §4).
    signers.PdfSigner(meta, signer=signer).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False), output=out)
    return out.getvalue()


@dataclass(frozen=True)
class SignatureVerdict:
    status: str  # valid | no-signature | signature-invalid | untrusted | modified | not-a-pdf
    code: str | None = None
    signer: str | None = None
    detail: str = ""

    @property
    def valid(self) -> bool:
        return self.status == "valid"


def verify_pdf(pdf: bytes, creds: OfficeCredentials) -> SignatureVerdict:
    """The signature's verdict, and the code the signed document carries. Never raises: the
    bytes are anyone's, and any parse failure is a verdict ("not-a-pdf")."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:
        return SignatureVerdict("not-a-pdf", detail=type(exc).__name__)
    code = _code(reader)
    if not signatures:
        return SignatureVerdict("no-signature", code=code)
    context = ValidationContext(trust_roots=[creds.asn1_root()], allow_fetching=False)
    try:
        # The last signature must cover the whole file: ours is the last revision.
        embedded = signatures[-1]
        status = validate_pdf_signature(embedded, context)
    except Exception as exc:
        return SignatureVerdict("signature-invalid", code=code, detail=type(exc).__name__)
    signer = _signer_name(status)
    if status.bottom_line:
        return SignatureVerdict("valid", code=code, signer=signer)
    if not status.intact or not status.valid:
        verdict = "signature-invalid"
    elif not status.trusted:
        verdict = "untrusted"
    else:
        verdict = "modified"
    return SignatureVerdict(verdict, code=code, signer=signer, detail=status.summary()[:200])


def _code(reader: PdfFileReader) -> str | None:
    try:
        trailer = reader.trailer_view
        if "/Info" not in trailer:
            return None
        info = trailer["/Info"]
        if "/Subject" not in info:
            return None
        return code_from_subject(str(info["/Subject"]))
    except Exception:
        return None


def _signer_name(status: object) -> str | None:
    try:
        cert = status.signing_cert  # type: ignore[attr-defined]
        return str(cert.subject.native.get("common_name"))[:128]
    except Exception:
        return None
