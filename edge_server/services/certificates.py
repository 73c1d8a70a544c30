"""Certificates (参保证明, 个人权益记录): issue for a session's citizen, fetch the PDF, and the
public verification by code and by PDF (docs/certificates.md).

Issue is idempotent (Idempotency-Key): the content is built from central's data through the
encrypted cache, rendered, signed, and stored with the answer in one transaction, so a retry
gets the same code and PDF and never a second certificate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import threading
from typing import Any

from fastapi import Response
from pydantic import TypeAdapter
from sqlalchemy import Connection, bindparam, select
from sqlmodel import Session, col, delete

from common.clock import iso_utc
from common.masking import mask_citizen_id
from common.problem import Problem
from common.sqlite import SINGLE_READ_OPTION
from edge_server import audit
from edge_server.certificates import codes, content, pki, receipt, render, signing
from edge_server.certificates.content import (
    CONTRIBUTIONS_PATH,
    CentralContribution,
    CertificateContent,
    ContributionsAnswer,
)
from edge_server.certificates.schemas import (
    CertificateRequest,
    CertificateView,
    PdfVerifyView,
    VerifiedCertificateView,
    VerifyView,
)
from edge_server.certificates.tables import IssuedCertificate
from edge_server.context import EdgeContext
from edge_server.crypto import Sealed, SealError
from edge_server.db import session_scope
from edge_server.idempotency import Commit, IdempotentRequest
from edge_server.services import citizens
from edge_server.services.sessions import live_session

CONTRIBUTIONS = "contributions"
PDF_MEDIA_TYPE = "application/pdf"
_CONTRIBUTIONS = TypeAdapter(list[CentralContribution])

log = logging.getLogger(__name__)


def _content_aad(code: str) -> str:
    return f"certificate:{code}"


def _pdf_aad(code: str) -> str:
    return f"certificate-pdf:{code}"


def verify_base(ctx: EdgeContext) -> str:
    s = ctx.settings
    return (s.certificate_verify_base_url or f"http://{s.host}:{s.port}").rstrip("/")


def credentials(ctx: EdgeContext, *, to_sign: bool = True) -> pki.OfficeCredentials:
    """The office's key and the root; `to_sign`: the certificate must also be valid now."""
    try:
        creds = pki.office_credentials(ctx.settings)
    except pki.CertificatesUnavailable as exc:
        log.error("no usable office signing key: %s", exc)
        raise Problem(503, "certificates-unavailable",
                      "This office cannot sign certificates now", retry_after=300) from None
    if to_sign and not (
            creds.cert.not_valid_before_utc <= ctx.now() < creds.cert.not_valid_after_utc):
        # A signature by an expired certificate would not verify: refuse rather than issue it.
        log.error("the office certificate is not valid now (until %s)",
                  creds.cert.not_valid_after_utc)
        raise Problem(503, "certificates-unavailable",
                      "This office cannot sign certificates now", retry_after=300)
    return creds


def contributions(ctx: EdgeContext, citizen_id: str) -> citizens.Fresh[list[CentralContribution]]:
    """The last 24 months (central's default window), through the cache like the rest."""

    def fetch() -> tuple[Any, Any]:
        answer = ctx.central.call(
            CONTRIBUTIONS_PATH, {"citizen_id": citizen_id}, ContributionsAnswer,
            lambda a: content.check_contributions(a, ctx.now()))
        return answer.as_of, [item.model_dump(mode="json") for item in answer.items]

    return citizens.cached(ctx, citizen_id, CONTRIBUTIONS, fetch, _CONTRIBUTIONS.validate_python)


# -- issue ----------------------------------------------------------------------------------------
def issue(ctx: EdgeContext, idem: IdempotentRequest, session_id: str,
          body: CertificateRequest) -> Response:
    def handler(commit: Commit) -> CertificateView:
        session = live_session(ctx, idem.device_id, session_id)
        creds = credentials(ctx)
        person = citizens.person(ctx, session.citizen_id)
        freshness = [person]
        payments = contribs = None
        if body.kind == "rights-record":
            paid = citizens.pension_payments(ctx, session.citizen_id)
            contributed = contributions(ctx, session.citizen_id)
            freshness += [paid, contributed]  # type: ignore[list-item]
            payments, contribs = paid.value, contributed.value
        code = codes.new_code()
        now = ctx.now()
        doc = content.build(
            kind=body.kind, code=code, issued_at=now, office_name=creds.office_name,
            office_id=creds.office_id, person=person.value,
            as_of=min(f.as_of for f in freshness), stale=any(f.stale for f in freshness),
            payments=payments, contributions=contribs,
            verify_url=f"{verify_base(ctx)}/verify/{code}",
        )
        try:
            unsigned = render.render_pdf(doc, ctx.settings.certificate_font_file)
        except render.RenderError as exc:
            log.error("cannot render certificates: %s", exc)
            raise Problem(503, "certificates-unavailable",
                          "This office cannot make certificates now", retry_after=300) from None
        try:
            pdf = signing.sign_pdf(unsigned, creds, reason=f"{doc.title} {code}",
                                   location=creds.office_name)
        except Exception as exc:  # pyHanko's errors have no common base; none is the client's
            log.error("cannot sign certificates: %s", type(exc).__name__)
            raise Problem(503, "certificates-unavailable",
                          "This office cannot sign certificates now", retry_after=300) from None
        digest = hashlib.sha256(pdf).hexdigest()
        # The on-screen QR code's link: the citizen's phone fetches the PDF with it, without
        # a device credential. Random and separate from the printed code, which only verifies.
        token = secrets.token_urlsafe(24)
        download_expires = now + dt.timedelta(seconds=ctx.settings.certificate_download_ttl_s)
        sealed = ctx.cipher.seal_json(doc.to_json(), _content_aad(code))
        sealed_pdf = ctx.cipher.seal(pdf, _pdf_aad(code))
        assert sealed_pdf.key_id == sealed.key_id  # one data key seals both (one column)
        view = CertificateView(
            code=code, kind=body.kind, title=doc.title, issued_at=doc.issued_at,
            stale=doc.stale, verify_url=doc.verify_url,
            pdf_url=f"/api/v1/certificates/{code}/pdf", pdf_bytes=len(pdf), pdf_sha256=digest,
            download_url=f"{verify_base(ctx)}/certificates/download/{token}",
            download_expires_at=iso_utc(download_expires),
            receipt=receipt.receipt(doc),
        )
        masked = mask_citizen_id(session.citizen_id)

        def write(db: Session) -> CertificateView:
            db.add(IssuedCertificate(
                code=code, kind=body.kind, device_id=idem.device_id, session_id=session_id,
                citizen_key=ctx.cipher.citizen_key(session.citizen_id), key_id=sealed.key_id,
                nonce=sealed.nonce, payload=sealed.ciphertext, pdf_nonce=sealed_pdf.nonce,
                pdf=sealed_pdf.ciphertext, pdf_sha256=digest, pdf_bytes=len(pdf),
                issued_at=now, download_sha256=_token_hash(token),
                download_expires_at=download_expires,
            ))
            audit.append(db, at=now, device_id=idem.device_id, action="certificate.issued",
                         session_id=session_id, masked_id=masked, outcome=f"{body.kind}:{code}")
            return view

        result = commit(write)
        log.info("issued %s %s for %s on device %s", body.kind, code, masked, idem.device_id)
        return result

    return idem.run(handler, status_code=201)


# -- reading back ---------------------------------------------------------------------------------
_T = IssuedCertificate.__table__  # type: ignore[attr-defined]
_READ = select(_T.c.code, _T.c.kind, _T.c.device_id, _T.c.key_id, _T.c.nonce, _T.c.payload,
               _T.c.pdf_sha256, _T.c.issued_at).where(_T.c.code == bindparam("code"))
_READ_PDF = select(_T.c.device_id, _T.c.key_id, _T.c.pdf_nonce, _T.c.pdf).where(
    _T.c.code == bindparam("code"))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_READ_DOWNLOAD = select(_T.c.code, _T.c.key_id, _T.c.pdf_nonce, _T.c.pdf,
                        _T.c.download_expires_at).where(
    _T.c.download_sha256 == bindparam("digest"))
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")


def download(ctx: EdgeContext, token: str) -> tuple[str, bytes]:
    """(code, PDF) for a download link that is still valid; else 404 (expired or not ours)."""
    if not _TOKEN.match(token):
        raise _not_found()
    with _reader(ctx) as conn:
        row = conn.execute(_READ_DOWNLOAD, {"digest": _token_hash(token)}).first()
    if row is None or row.download_expires_at <= ctx.now():
        raise _not_found()
    try:
        return row.code, ctx.cipher.open(Sealed(row.key_id, row.pdf_nonce, row.pdf),
                                         _pdf_aad(row.code))
    except SealError as exc:
        log.error("certificate %s does not open: %s", row.code, exc)
        raise _not_found() from None


def _reader(ctx: EdgeContext) -> Connection:
    # One SELECT each: no BEGIN IMMEDIATE, no writers' lock (verify is public and may be busy).
    return ctx.engine.connect().execution_options(**{SINGLE_READ_OPTION: True})


def _not_found() -> Problem:
    return Problem(404, "certificate-not-found", "No such certificate")


def pdf(ctx: EdgeContext, device_id: str, code_text: str) -> bytes:
    """The signed PDF, for the device that issued it (another's is "not found" too)."""
    code = codes.normalise(code_text)
    if code is None:
        raise _not_found()
    with _reader(ctx) as conn:
        row = conn.execute(_READ_PDF, {"code": code}).first()
    if row is None or row.device_id != device_id:
        raise _not_found()
    try:
        return ctx.cipher.open(Sealed(row.key_id, row.pdf_nonce, row.pdf), _pdf_aad(code))
    except SealError as exc:
        log.error("certificate %s does not open: %s", code, exc)
        raise _not_found() from None


def _stored(ctx: EdgeContext, code: str) -> tuple[CertificateContent, str] | None:
    with _reader(ctx) as conn:
        row = conn.execute(_READ, {"code": code}).first()
    if row is None:
        return None
    try:
        data = ctx.cipher.open_json(Sealed(row.key_id, row.nonce, row.payload),
                                    _content_aad(code))
        return CertificateContent.from_json(data), row.pdf_sha256
    except (SealError, TypeError, ValueError) as exc:
        # A row changed in place, or sealed with a key this edge no longer has: not genuine.
        log.error("certificate %s does not open: %s", code, type(exc).__name__)
        return None


_MESSAGES = {
    "genuine": "该证明真实有效。This certificate is genuine.",
    "unknown": "查无此证明：验证码未由本机构出具。No certificate was issued under this code.",
    "malformed": "验证码无效（输错或被改动）。This is not a valid verification code "
                 "(mistyped or altered).",
}


def verify_code(ctx: EdgeContext, code_text: str) -> VerifyView:
    code = codes.normalise(code_text)
    shown = code or code_text[:24]
    if code is None:
        return VerifyView(code=shown, status="malformed", genuine=False,
                          message=_MESSAGES["malformed"])
    found = _stored(ctx, code)
    if found is None:
        return VerifyView(code=code, status="unknown", genuine=False,
                          message=_MESSAGES["unknown"])
    doc, digest = found
    return VerifyView(
        code=code, status="genuine", genuine=True, message=_MESSAGES["genuine"],
        certificate=VerifiedCertificateView(
            kind=doc.kind, title=doc.title, issued_at=doc.issued_at,  # type: ignore[arg-type]
            issuer=doc.office_name, name_masked=doc.name_masked,
            citizen_id_masked=doc.citizen_id_masked, lines=doc.masked_lines(),
            pdf_sha256=digest,
        ),
    )


_PDF_MESSAGES = {
    "genuine": "签名有效，证明由本省人社机构出具且未被改动。The signature is valid and the "
               "certificate was issued by us, unchanged.",
    "signature-invalid": "签名无效：文件在签名后被改动或已损坏。The signature does not verify: "
                         "the file was changed after signing or is damaged.",
    "untrusted": "签名者不是本省人社机构认可的证书。The signer is not certified by the "
                 "province.",
    "modified": "文件在签名后被追加修改。The file was modified after it was signed.",
    "no-signature": "文件没有数字签名。The file carries no digital signature.",
    "unknown-code": "签名有效，但验证码未由本机构出具。The signature is valid, but no "
                    "certificate was issued under its code.",
    "not-a-pdf": "不是可读的 PDF 文件。This is not a readable PDF file.",
}


# Checking a PDF is CPU work that anyone may ask for: a few at once per process, the rest wait
# briefly and are told to come back (a flood of 5 MB uploads must not starve the kiosks).
_VERIFYING = threading.BoundedSemaphore(2)
_VERIFY_WAIT_S = 5.0


def verify_pdf(ctx: EdgeContext, data: bytes) -> PdfVerifyView:
    creds = credentials(ctx, to_sign=False)  # checking needs only the root
    if not _VERIFYING.acquire(timeout=_VERIFY_WAIT_S):
        raise Problem(503, "verify-busy", "Too many PDFs are being checked; try again soon",
                      retry_after=5)
    try:
        verdict = signing.verify_pdf(data, creds)
    finally:
        _VERIFYING.release()
    code = codes.normalise(verdict.code) if verdict.code else None
    stored = _stored(ctx, code) if code is not None else None
    status = verdict.status
    if verdict.valid:
        status = "genuine" if stored is not None else "unknown-code"
    matches = stored is not None and hashlib.sha256(data).hexdigest() == stored[1]
    log.info("PDF verification: %s", status)
    return PdfVerifyView(
        status=status,  # type: ignore[arg-type]
        genuine=status == "genuine", signature_valid=verdict.valid, code=code,
        code_known=stored is not None, matches_issued=matches, signer=verdict.signer,
        message=_PDF_MESSAGES[status],
    )




# -- retention ----------------------------------------------------------------------------------
def purge(ctx: EdgeContext) -> int:
    """Delete certificates past `certificate_retention_days`; how many were deleted. For the
    maintenance loop: after it, their codes are "unknown" (the PDFs still verify by signature)."""
    cutoff = ctx.now() - dt.timedelta(days=ctx.settings.certificate_retention_days)
    with session_scope(ctx.engine) as db:
        deleted = db.exec(delete(IssuedCertificate).where(
            col(IssuedCertificate.issued_at) < cutoff)).rowcount
    if deleted:
        log.info("purged %d issued certificates (retention over)", deleted)
    return int(deleted or 0)
