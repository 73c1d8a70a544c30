"""`kioskctl fleet artifacts serve`: a TUF repository's metadata and targets over HTTP.

Only two trees are served, read-only: /metadata/<N.>role.json and /targets/<dir>/<file>; the
staged files, the policy and the keys beside them never are. Names are checked as data (a
fixed pattern, no dot files, no way out of the tree). Targets answer Range requests (one range;
anything else is served whole, as RFC 9110 allows), so a terminal on a poor link resumes a cut
download. Every request has a total deadline: a peer that reads slowly is cut off when it
passes, and resumes with Range. Request heads are bounded by h11, connections by
`limit_concurrency`; errors answer as problem+json.
"""

from __future__ import annotations

import logging
import re
import socket
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import FileResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.problem import Problem
from webapi.problems import install_problem_handlers, problem_response

log = logging.getLogger(__name__)

METADATA_RE = re.compile(r"^([1-9][0-9]{0,9}\.)?(root|targets|snapshot|timestamp)\.json$")
SEGMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
MAX_SEGMENTS = 4
SINGLE_RANGE_RE = re.compile(r"^bytes=(?:(\d{1,19})-(\d{0,19})|-(\d{1,19}))$")
DEFAULT_REQUEST_DEADLINE_S = 600.0
# Unversioned names change at every publish; versioned and hash-named files never do.
_MUTABLE = {"root.json", "timestamp.json"}


class RequestDeadline:
    """ASGI middleware: the whole exchange, body included, ends within `seconds`."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        import anyio

        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with anyio.move_on_after(self.seconds) as scope_cancel:
            await self.app(scope, receive, tracking_send)
        if scope_cancel.cancelled_caught:
            # Returning mid-body makes the server close the connection: the client sees a
            # short body and resumes with Range.
            log.info("request for %s passed its %.0f s deadline; connection closed",
                     scope.get("path", "?")[:200], self.seconds)
            if not started:
                await problem_response(Problem(503, "deadline", "the request took too long"))(
                    scope, receive, send)


def _within(base: Path, parts: list[str]) -> Path | None:
    if not parts or len(parts) > MAX_SEGMENTS or not all(SEGMENT_RE.match(p) for p in parts):
        return None
    path = base.joinpath(*parts)
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(base.resolve()) or not resolved.is_file():
        return None
    return resolved


def _not_found(what: str) -> Problem:
    return Problem(404, "not-found", f"no such {what}")


def _file(request: Request, path: Path, *, immutable: bool) -> Response:
    size = path.stat().st_size
    headers = {"Cache-Control": "public, max-age=31536000, immutable" if immutable
               else "no-cache"}
    wanted = request.headers.get("range")
    if wanted is not None:
        match = SINGLE_RANGE_RE.match(wanted.strip())
        first, last, suffix = match.groups() if match else (None, None, None)
        if match is None or (first is not None and last and int(last) < int(first)):
            # Several ranges or a malformed header (a last byte before the first is invalid,
            # RFC 9110 14.1.1): served whole, as if none was asked, never starlette's 400.
            request.scope["headers"] = [(k, v) for k, v in request.scope["headers"]
                                        if k != b"range"]
        elif (first is not None and int(first) >= size) or (suffix is not None
                                                            and int(suffix) == 0):
            # Past the end, or the last zero bytes: nothing to send (answered as problem+json,
            # not starlette's plain text).
            response = problem_response(Problem(416, "range-not-satisfiable",
                                                f"the file has {size} bytes"), request)
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
    return FileResponse(path, headers=headers, media_type="application/octet-stream"
                        if path.suffix != ".json" else "application/json")


def create_app(repo: Path, *, request_deadline_s: float = DEFAULT_REQUEST_DEADLINE_S) -> Any:
    """The repository at `repo` (its metadata/ and targets/) as an ASGI app."""
    app = FastAPI(title="hrss-kiosk artifact store", docs_url=None, redoc_url=None,
                  openapi_url=None)
    install_problem_handlers(app)
    metadata_dir = repo / "metadata"
    targets_dir = repo / "targets"

    @app.api_route("/metadata/{name}", methods=["GET", "HEAD"])
    def metadata(name: str, request: Request) -> Response:
        if not METADATA_RE.match(name):
            raise _not_found("metadata")
        path = _within(metadata_dir, [name])
        if path is None:
            # A client probes N+1.root.json on every refresh: 404 is the normal answer.
            raise _not_found("metadata")
        return _file(request, path, immutable=name not in _MUTABLE)

    @app.api_route("/targets/{target:path}", methods=["GET", "HEAD"])
    def target(target: str, request: Request) -> Response:
        path = _within(targets_dir, target.split("/")) if len(target) <= 1000 else None
        if path is None:
            raise _not_found("target")
        return _file(request, path, immutable=True)

    return RequestDeadline(app, request_deadline_s)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free one), so the caller can say where it listens."""
    sock = socket.create_server((host, port), reuse_port=False)
    sock.set_inheritable(True)
    return sock


def run(repo: Path, host: str = "127.0.0.1", port: int = 8400, *,
        request_deadline_s: float = DEFAULT_REQUEST_DEADLINE_S, limit_concurrency: int = 256,
        announce: Any = print) -> None:
    import uvicorn

    if not (repo / "metadata" / "root.json").is_file():
        raise FileNotFoundError(f"{repo} holds no repository (kioskctl fleet artifacts init)")
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    config = uvicorn.Config(create_app(repo, request_deadline_s=request_deadline_s),
                            log_level="warning", access_log=False, timeout_keep_alive=5,
                            limit_concurrency=limit_concurrency, lifespan="off")
    announce(f"serving {repo} on http://{host}:{actual}/ (metadata/, targets/)")
    uvicorn.Server(config).run(sockets=[sock])
