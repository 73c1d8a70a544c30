"""Certificates (edge-api.md, "Certificates"): issue for a session (kiosk), the signed PDF
(kiosk), and the public verification by code and by PDF (banks, employers, anyone). Thin:
services/certificates.py does the work."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from common.problem import Problem
from edge_server.certificates.schemas import (
    CertificateRequest,
    CertificateView,
    PdfVerifyView,
    VerifyView,
)
from edge_server.deps import Ctx, CurrentDevice, Idempotent
from edge_server.routers.sessions import SessionId
from edge_server.schemas import problems
from edge_server.services import certificates as service

router = APIRouter(prefix="", tags=["certificates"])
public = APIRouter(tags=["verify"])

Code = Annotated[str, Path(max_length=64)]
Token = Annotated[str, Path(max_length=64)]
_AUTH = (401, "unauthorized")
_PDF = "application/pdf"
# Also taken as a PDF upload: what generic clients (and schemathesis) send for bytes.
_OCTETS = "application/octet-stream"
_BINARY = {"schema": {"type": "string", "format": "binary"}}
# The public pages run no script of anyone else's and load nothing (the verify page none at all).
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
}


@router.post(
    "/sessions/{session_id}/certificates",
    status_code=201,
    response_model=CertificateView,
    responses=problems(
        _AUTH, (400, "idempotency-key-required"), (422, "idempotency-key-reused"),
        (409, "idempotency-key-in-flight"), (404, "session-not-found"),
        (404, "citizen-not-found"), (422, "validation-error"), (413, "payload-too-large"),
        (503, "central-unavailable"), (503, "certificates-unavailable"),
    ),
)
def issue(session_id: SessionId, body: CertificateRequest, ctx: Ctx,
          idem: Idempotent) -> Response:
    """Issue a 参保证明 (`participation`) or 个人权益记录 (`rights-record`) for the session's
    citizen (Idempotency-Key): a signed A4 PDF, its receipt version and its verification code."""
    return service.issue(ctx, idem, session_id, body)


@router.get(
    "/certificates/{code}/pdf",
    response_class=Response,
    responses={
        200: {"content": {_PDF: {"schema": {"type": "string", "format": "binary"}}},
              "description": "The signed PDF (PAdES)."},
        **problems(_AUTH, (404, "certificate-not-found"), (422, "validation-error")),
    },
)
def get_pdf(code: Code, ctx: Ctx, device_id: CurrentDevice) -> Response:
    """The certificate's signed PDF, for the device that issued it."""
    data = service.pdf(ctx, device_id, code)
    return Response(data, media_type=_PDF, headers={
        "Content-Disposition": f'inline; filename="certificate-{code}.pdf"',
        "Cache-Control": "no-store",  # a citizen's document: no proxy or browser keeps it
    })


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")[:512].lower()
    return "application/json" not in accept and ("text/html" in accept or not accept
                                                 or "*/*" in accept)


@public.get(
    "/verify/pdf",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                     "description": "A page to check a PDF file in the browser."}},
)
def verify_pdf_page() -> HTMLResponse:
    """Public: a page for people to check a certificate PDF (it posts the file to POST
    /verify/pdf). Declared before /verify/{code}, which would otherwise take "pdf" as a code."""
    return HTMLResponse(_UPLOAD_PAGE, headers={
        **_PAGE_HEADERS,
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                   "script-src 'unsafe-inline'; connect-src 'self'"})


_UPLOAD_PAGE = (
    "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
    "<meta name=viewport content='width=device-width'><title>PDF 证明核验</title>"
    "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em;"
    "font-size:1.2em}</style></head><body><h1>PDF 证明核验</h1>"
    "<p>选择证明的 PDF 文件，核验其数字签名和验证码。</p>"
    "<input type=file id=f accept='application/pdf'><p id=r></p><script>"
    "document.getElementById('f').onchange=async e=>{const f=e.target.files[0];if(!f)return;"
    "const r=await fetch('/verify/pdf',{method:'POST',headers:{'Content-Type':"
    "'application/pdf'},body:f});const out=document.getElementById('r');"
    "if(!r.ok){out.textContent='无法核验（'+r.status+'）';return}const j=await r.json();"
    "out.textContent=j.message+(j.code?'  验证码：'+j.code:'');"
    "out.style.color=j.genuine?'#1a7f37':'#b3261e'}</script></body></html>"
)


@public.get(
    "/verify/{code}",
    response_model=VerifyView,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}},
              "description": "JSON with `Accept: application/json`, else a page for people."},
        **problems((422, "validation-error")),
    },
)
def verify_code(code: Code, request: Request, ctx: Ctx) -> Response:
    """Public: whether a verification code is genuine, and the certificate's masked content.
    Unknown and malformed codes answer 200 too, with `genuine: false`."""
    view = service.verify_code(ctx, code)
    if _wants_html(request):
        return HTMLResponse(_page(view), headers={**_PAGE_HEADERS, "Cache-Control": "no-store"})
    return Response(view.model_dump_json(), media_type="application/json",
                    headers={"Cache-Control": "no-store", "Vary": "Accept"})


@public.post(
    "/verify/pdf",
    response_model=PdfVerifyView,
    openapi_extra={"requestBody": {"required": True,
                                   "content": {_PDF: _BINARY, _OCTETS: _BINARY}}},
    responses=problems((413, "payload-too-large"), (415, "unsupported-media-type"),
                       (503, "certificates-unavailable"), (503, "verify-busy")),
)
async def verify_pdf(request: Request, ctx: Ctx) -> PdfVerifyView:
    """Public: does this PDF's signature verify against the province root, and which code
    does it carry (is it one we issued, byte for byte)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in (_PDF, _OCTETS):
        raise Problem(415, "unsupported-media-type", "The body must be application/pdf")
    data = await request.body()  # bounded by RouteBodySizeLimit
    # pyHanko parses and hashes: CPU work off the event loop.
    return await run_in_threadpool(service.verify_pdf, ctx, data)


@public.get(
    "/certificates/download/{token}",
    response_class=Response,
    responses={
        200: {"content": {_PDF: _BINARY}, "description": "The signed PDF (PAdES)."},
        **problems((404, "certificate-not-found"), (422, "validation-error")),
    },
)
def download(token: Token, ctx: Ctx) -> Response:
    """Public, by the link behind the kiosk's on-screen QR code: the citizen's phone fetches
    the signed PDF, until `download_expires_at`."""
    code, data = service.download(ctx, token)
    return Response(data, media_type=_PDF, headers={
        "Content-Disposition": f'attachment; filename="certificate-{code}.pdf"',
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
    })


def _page(view: VerifyView) -> str:
    e = html.escape
    rows = ""
    if view.certificate is not None:
        c = view.certificate
        rows = (
            f"<tr><th>证明</th><td>{e(c.title)}</td></tr>"
            f"<tr><th>姓名</th><td>{e(c.name_masked)}</td></tr>"
            f"<tr><th>公民身份号码</th><td>{e(c.citizen_id_masked)}</td></tr>"
            f"<tr><th>出具机构</th><td>{e(c.issuer)}</td></tr>"
            f"<tr><th>出具时间</th><td>{e(c.issued_at)}</td></tr>"
            f"<tr><th>SHA-256</th><td><code>{e(c.pdf_sha256)}</code></td></tr>"
        )
        rows += "".join(f"<tr><td colspan=2>{e(line)}</td></tr>" for line in c.lines)
    colour = "#1a7f37" if view.genuine else "#b3261e"
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width'><title>证明核验</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em;"
        "font-size:1.2em}th{text-align:left;padding-right:1em}</style></head><body>"
        f"<h1>证明核验</h1><p>验证码：<code>{e(view.code)}</code></p>"
        f"<p style='color:{colour};font-weight:bold'>{e(view.message)}</p>"
        f"<table>{rows}</table></body></html>"
    )
