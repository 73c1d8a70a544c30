"""The client of the kiosk's local control API (maintenance screen, screenshot).

Contract (the kiosk's side is kiosk/'s): at the kiosk status URL's scheme, host and port,
`Authorization: Bearer <token>` with the token from the agent's `kiosk_control_token_file`;
loopback only, so the token never leaves the terminal.
  POST /control/maintenance {"on": bool, "reason": str} -> 200 {"on": bool, "pending": bool}
  POST /control/screenshot  {"max_width": int}          -> 200 image/png (at most 2 MiB)
Errors: 400 bad body, 401 token, 404 control not configured, 409 {"error": "session-active"}
(screenshot during a citizen session), 503 {"error": "ui-not-ready"}.

Every call has one total deadline and a bounded answer; every failure is a `KioskControlError`
whose `code` is short and stable enough to put in a command's result.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from common.clock import Deadline
from common.http import AnswerTooLarge, DeadlinePassed, deadline_transport, read_bounded, within

MAX_PNG_BYTES = 2 * 1024 * 1024
MAX_JSON_BYTES = 4 * 1024
MAX_TOKEN_BYTES = 4 * 1024
MAINTENANCE_PATH = "/control/maintenance"
SCREENSHOT_PATH = "/control/screenshot"

#: HTTP statuses of the contract and the codes they become.
_STATUS_CODES = {400: "bad-request", 401: "unauthorized", 404: "not-configured",
                 409: "session-active", 503: "ui-not-ready"}


class KioskControlError(Exception):
    """A control call that did not succeed; `code` says why in one word."""

    def __init__(self, code: str, detail: str = "", status: int | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class MaintenanceState:
    on: bool
    pending: bool


def control_base(status_url: str) -> str:
    """The control API's base (scheme://host:port) from the status URL; loopback only."""
    parts = urlsplit(status_url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not _loopback(host):
        raise KioskControlError("not-loopback", "the kiosk's control API must be on this host")
    return f"{parts.scheme}://{parts.netloc}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(path: Path | None) -> str:
    if path is None:
        raise KioskControlError("not-configured", "no kiosk_control_token_file")
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_TOKEN_BYTES + 1)
    except OSError as exc:
        raise KioskControlError("no-token", type(exc).__name__) from None
    token = raw.decode("ascii", "replace").strip()
    # A token is one printable header value; anything else would be a broken file.
    if not token or len(raw) > MAX_TOKEN_BYTES or not token.isprintable() or " " in token:
        raise KioskControlError("no-token", "the token file does not hold a token")
    return token


class KioskControl:
    def __init__(self, status_url: str, token_file: Path | None, timeout_s: float,
                 closed: threading.Event | None = None) -> None:
        self.status_url = status_url
        self.token_file = token_file
        self.timeout_s = timeout_s
        self._closed = closed or threading.Event()

    def maintenance(self, on: bool, reason: str) -> MaintenanceState:
        body = self._post(MAINTENANCE_PATH, {"on": on, "reason": reason}, MAX_JSON_BYTES)
        try:
            answer = json.loads(body)
        except ValueError:
            raise KioskControlError("bad-answer", "not JSON") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("on"), bool) \
                or not isinstance(answer.get("pending"), bool):
            raise KioskControlError("bad-answer", "not {on, pending}")
        return MaintenanceState(answer["on"], answer["pending"])

    def screenshot(self, max_width: int) -> bytes:
        png = self._post(SCREENSHOT_PATH, {"max_width": max_width}, MAX_PNG_BYTES)
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise KioskControlError("bad-answer", "not a PNG")
        return png

    def _post(self, path: str, payload: dict[str, Any], max_bytes: int) -> bytes:
        url = control_base(self.status_url) + path
        headers = {"Authorization": f"Bearer {read_token(self.token_file)}"}
        deadline = Deadline(self.timeout_s)
        try:
            with (
                httpx.Client(transport=deadline_transport(1, 0), timeout=self.timeout_s) as c,
                within(deadline),
                c.stream("POST", url, json=payload, headers=headers) as r,
            ):
                if self._closed.is_set():
                    raise KioskControlError("stopping", "the agent is stopping")
                if r.status_code != 200:
                    raise self._refusal(r, deadline)
                return read_bounded(r, max_bytes, deadline)
        except KioskControlError:
            raise
        except AnswerTooLarge:
            raise KioskControlError("too-large", f"answer over {max_bytes} bytes") from None
        except DeadlinePassed:
            raise KioskControlError("unavailable",
                                    f"no full answer within {self.timeout_s:g}s") from None
        except (httpx.HTTPError, OSError, ValueError) as exc:
            raise KioskControlError("unavailable", str(exc)[:200] or type(exc).__name__) from None

    @staticmethod
    def _refusal(r: httpx.Response, deadline: Deadline) -> KioskControlError:
        code = _STATUS_CODES.get(r.status_code, "refused")
        detail = ""
        try:
            body = json.loads(read_bounded(r, MAX_JSON_BYTES, deadline))
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                detail = body["error"][:100]
        except (AnswerTooLarge, DeadlinePassed, ValueError, httpx.HTTPError):
            pass  # the status says enough
        return KioskControlError(code, detail or f"HTTP {r.status_code}", r.status_code)
