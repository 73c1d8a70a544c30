"""Wire shapes of the certificate routes (edge-api.md, "Certificates")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edge_server.certificates.content import Kind

VerifyStatus = Literal["genuine", "unknown", "malformed"]
PdfStatus = Literal["genuine", "signature-invalid", "untrusted", "modified", "no-signature",
                    "unknown-code", "not-a-pdf"]


class CertificateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind


class ReceiptLineView(BaseModel):
    """drivers.printer.interface.ReceiptLine, field for field."""

    text: str = Field(max_length=96)
    align: Literal["left", "center", "right"] = "left"
    bold: bool = False
    double_size: bool = False


class ReceiptDocumentView(BaseModel):
    """drivers.printer.interface.ReceiptDocument, field for field (copies left to the kiosk)."""

    title: str = Field(max_length=96)
    lines: list[ReceiptLineView] = Field(max_length=200)
    qr: str | None = Field(None, max_length=512)
    footer: str = Field("", max_length=96)


class CertificateView(BaseModel):
    code: str
    kind: Kind
    title: str
    issued_at: str
    stale: bool
    verify_url: str
    pdf_url: str
    download_url: str
    download_expires_at: str
    pdf_bytes: int
    pdf_sha256: str
    receipt: ReceiptDocumentView


class VerifiedCertificateView(BaseModel):
    """What a verifier may see: masked identity, the rows of the document, who issued it."""

    kind: Kind
    title: str
    issued_at: str
    issuer: str
    name_masked: str
    citizen_id_masked: str
    lines: list[str]
    pdf_sha256: str


class VerifyView(BaseModel):
    code: str
    status: VerifyStatus
    genuine: bool
    message: str
    certificate: VerifiedCertificateView | None = None


class PdfVerifyView(BaseModel):
    status: PdfStatus
    genuine: bool
    signature_valid: bool
    code: str | None = None
    code_known: bool = False
    matches_issued: bool = False
    signer: str | None = None
    message: str
