"""Certificates (参保证明, 个人权益记录) as the kiosk asks the edge for them (issue 8).

`POST /sessions/{sid}/certificates {"kind"}` (Idempotency-Key): the certificate's verification
code, its public verify URL, and its receipt form, which maps 1:1 onto the receipt printer's
`ReceiptDocument`. `GET /certificates/{code}/pdf`: the signed A4 PDF, for a document printer.
Both go through the kiosk's one edge client (its deadline, bounded answers, problem mapping).

The answers hold citizen data (the name on the receipt lines): no repr shows them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from drivers.printer.interface import (
    MAX_LINE_CHARS,
    MAX_LINES,
    MAX_QR_CHARS,
    ReceiptDocument,
    ReceiptLine,
)
from kiosk.edge.errors import INVALID_RESPONSE, EdgeProblem
from kiosk.edge.models import _Answer

# A4 certificates are one or two pages with an embedded font subset: tens of kB. Anything
# far beyond is not the document we asked for.
MAX_PDF_BYTES = 5 * 1024 * 1024
CERTIFICATES_UNAVAILABLE = "certificates-unavailable"  # 503: the edge has no office key now
CERTIFICATE_NOT_FOUND = "certificate-not-found"

VerificationCode = Annotated[str, StringConstraints(max_length=64,
                                                    pattern=r"^[0-9A-Z][0-9A-Z-]{0,63}$")]
Url = Annotated[str, StringConstraints(max_length=MAX_QR_CHARS, pattern=r"^(https?://|/)\S+$")]
Line = Annotated[str, StringConstraints(max_length=MAX_LINE_CHARS)]


class CertificateKind(StrEnum):
    PARTICIPATION = "participation"  # 参保证明
    RIGHTS_RECORD = "rights-record"  # 个人权益记录


class ReceiptLineForm(_Answer):
    text: Line
    align: Literal["left", "center", "right"] = "left"
    bold: bool = False
    double_size: bool = False


class ReceiptForm(_Answer):
    title: Line
    lines: tuple[ReceiptLineForm, ...] = Field((), max_length=MAX_LINES)
    qr: Url | None = None
    footer: Line = ""

    def document(self) -> ReceiptDocument:
        """The receipt printer's document (raises ValueError on control characters)."""
        lines = tuple(ReceiptLine(line.text, line.align, line.bold, line.double_size)
                      for line in self.lines)
        return ReceiptDocument(self.title, lines, self.qr, self.footer)


class CertificateView(_Answer):
    code: VerificationCode
    kind: CertificateKind
    issued_at: AwareDatetime
    verify_url: Url
    pdf_url: Url
    # A public link a phone can open to download the PDF, where the edge gives one; the
    # kiosk's QR code shows it, else the verify page.
    download_url: Url | None = None
    pdf_bytes: int | None = Field(None, ge=1, le=MAX_PDF_BYTES)
    pages: int | None = Field(None, ge=1, le=50)
    receipt: ReceiptForm

    @model_validator(mode="after")
    def _own_code(self) -> CertificateView:
        if self.code not in self.pdf_url:
            raise ValueError("the PDF link is not this certificate's")
        return self

    @property
    def phone_url(self) -> str:
        """What the QR code on the screen opens on a phone."""
        return self.download_url or self.verify_url

    def __repr__(self) -> str:
        return f"CertificateView({self.kind}, pages={self.pages})"


class CertificatePort(Protocol):
    def issue_certificate(self, session_id: str, kind: CertificateKind, *,
                          idempotency_key: str) -> CertificateView: ...

    def certificate_pdf(self, certificate: CertificateView) -> bytes: ...


class CertificateCalls:
    """CertificatePort over the kiosk's EdgeClient (its one request function)."""

    def __init__(self, edge: Any) -> None:
        self._edge = edge

    def issue_certificate(self, session_id: str, kind: CertificateKind, *,
                          idempotency_key: str) -> CertificateView:
        view: CertificateView = self._edge._call(
            "POST", f"/sessions/{session_id}/certificates", CertificateView,
            json={"kind": str(kind)}, key=idempotency_key, label="/sessions/{id}/certificates")
        if view.kind != kind:
            raise EdgeProblem(INVALID_RESPONSE, 201,
                              title="POST /sessions/{id}/certificates answered another kind")
        return view

    def certificate_pdf(self, certificate: CertificateView) -> bytes:
        pdf: bytes = self._edge._call(
            "GET", f"/certificates/{certificate.code}/pdf", None,
            label="/certificates/{code}/pdf", raw_max_bytes=MAX_PDF_BYTES)
        if not pdf.startswith(b"%PDF-"):
            raise EdgeProblem(INVALID_RESPONSE, 200,
                              title="GET /certificates/{code}/pdf answered no PDF")
        return pdf


def certificate_port(edge: object) -> CertificatePort:
    """The edge port a journey's Call gets, as a CertificatePort."""
    if hasattr(edge, "issue_certificate") and hasattr(edge, "certificate_pdf"):
        return edge  # type: ignore[return-value]
    return CertificateCalls(edge)
