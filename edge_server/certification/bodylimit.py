"""The request body limit, with one exception: the certification route carries the kiosk's
evidence frames (a few JPEGs, base64) and may send `certification_max_body_bytes`; every other
route keeps `max_body_bytes` (a kiosk call is a few hundred bytes)."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from edge_server.middleware import BodySizeLimit
from edge_server.settings import EdgeSettings

# POST /api/v1/sessions/{session_id}/certifications only (not its GET neighbour).
CERTIFICATIONS_PATH = re.compile(r"^/api/v1/sessions/[^/]{1,64}/certifications$")
# POST /verify/pdf: a signed certificate PDF to check (certificate_verify_max_pdf_bytes).
VERIFY_PDF_PATH = "/verify/pdf"


class RouteBodySizeLimit:
    def __init__(self, app: ASGIApp, settings: EdgeSettings) -> None:
        self._default = BodySizeLimit(app, settings.max_body_bytes)
        self._evidence = BodySizeLimit(
            app, max(settings.certification_max_body_bytes, settings.max_body_bytes))
        self._pdf = BodySizeLimit(
            app, max(settings.certificate_verify_max_pdf_bytes, settings.max_body_bytes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope.get("method") == "POST"
                and CERTIFICATIONS_PATH.match(scope.get("path", ""))):
            await self._evidence(scope, receive, send)
        elif (scope["type"] == "http" and scope.get("method") == "POST"
                and scope.get("path") == VERIFY_PDF_PATH):
            await self._pdf(scope, receive, send)
        else:
            await self._default(scope, receive, send)
