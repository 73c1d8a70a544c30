"""The OpenAPI document says what the server does (edge-api.md), not FastAPI's defaults:

- every error is `application/problem+json` with the problem schema (FastAPI would say
  application/json, and describe its own 422 shape, which we never send);
- `Idempotency-Key` is required where the route requires it, with its pattern;
- every operation documents 405 (with `Allow`); authenticated ones 401; ones with a body 400,
  413, 415 and 422; identify and the PIN routes 429, and every 503, with `Retry-After`.

Tested with schemathesis against the real app (tests/edge_server/test_openapi.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from common.problem import PROBLEM_JSON
from edge_server.idempotency import HEADER, KEY_PATTERN, REPLAYED_HEADER

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemView"}
_METHODS = ("get", "put", "post", "delete", "patch")
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer", "minimum": 0}, "required": True},
}
# Status -> (description, headers) added where they apply.
_BODY_ERRORS = {
    "400": "the body is not JSON, or the Idempotency-Key is missing or malformed",
    "413": "payload-too-large: the body is over the edge's limit",
    "415": "unsupported-media-type: the body is not application/json",
    "422": "validation-error (with `errors`) or a refusal named by `code`",
}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }
    if headers:
        response["headers"] = headers
    return response


def _add(responses: dict[str, Any], status: str, description: str,
         headers: dict[str, Any] | None = None) -> None:
    existing = responses.get(status)
    if existing is not None:
        description = existing.get("description") or description
    responses[status] = _problem(description, headers)


def _idempotency_parameter(operation: dict[str, Any]) -> bool:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "header" and parameter["name"].lower() == HEADER.lower():
            parameter["name"] = HEADER
            parameter["required"] = True
            parameter["schema"] = {
                "type": "string", "pattern": f"^{KEY_PATTERN.pattern}$",
                "minLength": 1, "maxLength": 128,
            }
            return True
    return False


def _document_operation(path: str, method: str, operation: dict[str, Any],
                        allowed: list[str]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    idempotent = _idempotency_parameter(operation)
    for status, response in list(responses.items()):
        if status[0] in "45":
            _add(responses, status, response.get("description", ""))
    if operation.get("security"):
        _add(responses, "401", "unauthorized, or token-expired (the token is past its expiry)")
    if "requestBody" in operation or idempotent:
        for status, description in _BODY_ERRORS.items():
            _add(responses, status, description)
    if idempotent:
        _add(responses, "409", "idempotency-key-in-flight: retry later",
             {"Retry-After": {**_RETRY_AFTER["Retry-After"], "required": False}})
        for status, response in responses.items():
            if status.startswith("2"):
                response.setdefault("headers", {})[REPLAYED_HEADER] = {
                    "description": "`true` when this is the stored answer of an earlier "
                                   "request with the same Idempotency-Key.",
                    "schema": {"type": "string", "enum": ["true"]},
                }
    if path.endswith("/sessions") and method == "post":
        _add(responses, "429", "too-many-requests: this device or the hall identifies too "
                               "often", _RETRY_AFTER)
    elif "429" in responses:  # the PIN routes' buckets (rate_limit.py)
        _add(responses, "429", "too-many-requests: too many PIN attempts for this citizen or "
                               "from this device", _RETRY_AFTER)
    if "503" in responses:
        _add(responses, "503", responses["503"]["description"], _RETRY_AFTER)
    allow = ", ".join(m.upper() for m in allowed)
    _add(responses, "405", f"method-not-allowed: this path allows {allow}", {
        "Allow": {"description": "The methods this path allows.",
                  "schema": {"type": "string"}, "required": True},
    })


def document(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path, item in schema.get("paths", {}).items():
        allowed = [m for m in _METHODS if m in item]
        for method in _METHODS:
            if method in item:
                _document_operation(path, method, item[method], allowed)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
