"""RFC 9457 problem details: the pure model, shared by our servers and their clients.

No web framework here (common/ is a leaf): the FastAPI adapter is `webapi.problems`.
"""

from __future__ import annotations

from typing import Any

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://hrss-kiosk.example/problems/"


class Problem(Exception):
    """Raise from a route or a plain function to answer with problem+json.

    `code` is the stable machine name (the last part of `type`); `title` is short English for
    operators; clients map `code` to their own user-facing text.
    """

    def __init__(
        self, status: int, code: str, title: str, detail: str | None = None, **extra: Any
    ) -> None:
        super().__init__(f"{status} {code}: {title}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body




def parse_problem(body: Any) -> tuple[str, str] | None:
    """(code, title) of a problem+json body, or None when it is not one of ours.

    For clients: a body is data from a peer, so only short strings are taken from it.
    """
    if not isinstance(body, dict):
        return None
    code, title = body.get("code"), body.get("title", "")
    if not isinstance(code, str) or not 0 < len(code) <= 64 or not isinstance(title, str):
        return None
    return code, title[:200]
