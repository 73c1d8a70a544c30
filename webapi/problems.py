"""FastAPI adapter of RFC 9457 problem details for every HTTP server of ours (edge, central
simulator, card simulator, fleet manager). The model itself is `common.problem`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from common.problem import PROBLEM_JSON, Problem

log = logging.getLogger(__name__)


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    retry = problem.extra.get("retry_after")
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return JSONResponse(
        problem.body(instance), status_code=problem.status, media_type=PROBLEM_JSON, headers=headers
    )


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """Every method the request's path allows, across all the routes that match it.

    Starlette's own `Allow` names only the first route that matched the path, and a path with
    GET and DELETE is two routes. Each method is asked of the router as a request would be.
    """
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


_HTTP_CODES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
}


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app`, including FastAPI's own, answer as problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http-error")
        title = exc.detail if isinstance(exc.detail, str) else code
        response = problem_response(Problem(exc.status_code, code, title), request)
        # Keep the error's own headers: `Allow` on a 405, `WWW-Authenticate` on a 401.
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            response.headers["Allow"] = allowed_methods(request)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Echo locations and messages, never the submitted values: they may be citizen data.
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""),
             "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem_response(
            Problem(422, "validation-error", "The request is not valid", errors=errors), request
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(Problem(500, "internal-error", "Internal error"), request)
