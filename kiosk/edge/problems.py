"""Error answers of the edge, read as data: RFC 9457 problems (common.problem) or a gateway page.

A body is bounded before it gets here (kiosk.edge.client); what is taken from it is bounded
again here: short strings, a sane Retry-After.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

from common.problem import PROBLEM_JSON, parse_problem
from kiosk.edge.errors import INVALID_RESPONSE, EdgeProblem, EdgeUnreachable

# A proxy or load balancer in front of the edge answers these when the edge itself is gone.
GATEWAY_STATUSES = frozenset({502, 503, 504})
MAX_RETRY_AFTER_S = 3600.0
_KNOWN = frozenset({"type", "title", "status", "code", "detail", "instance"})


def problem_from(
    status: int, content_type: str, content: bytes, retry_after: str | None, what: str
) -> EdgeUnreachable | EdgeProblem:
    """The typed error of one non-2xx answer."""
    body = _json_body(content_type, content)
    parsed = parse_problem(body)
    if parsed is None or not isinstance(body, dict):
        if status in GATEWAY_STATUSES:
            return EdgeUnreachable(f"{status} from a gateway on {what}")
        return EdgeProblem(INVALID_RESPONSE, status, title=f"non-problem error answer on {what}")
    code, title = parsed
    detail = body.get("detail")
    return EdgeProblem(
        code=code,
        status=status,
        title=title,
        detail=detail[:200] if isinstance(detail, str) else "",
        retry_after_s=parse_retry_after(retry_after),
        extra={k: v for k, v in body.items() if k not in _KNOWN},
    )


def _json_body(content_type: str, content: bytes) -> Any:
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media_type not in (PROBLEM_JSON, "application/json"):
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3); bounded to an hour."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    left = when.timestamp() - (time.time() if now is None else now)
    return min(max(0.0, left), MAX_RETRY_AFTER_S)
