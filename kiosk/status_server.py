"""Loopback HTTP status for the fleet agent, and automation hooks for tests and the demo.

`GET /status` never carries citizen data: version, device id, screen name, whether a session is
active, and peripheral health. The `/automation/*` routes exist only when automation is on
(tests and the demo) and only answer loopback clients:

- `GET  /automation/wait?screen=NAME&timeout=10` -> 200 once the screen is NAME, 408 on timeout
- `POST /automation/tap {"target": "<button id>"}` -> 200 once the tap is dispatched, 404 if no
  such button is on screen, 409 if it is disabled. A flow action name ("show-benefits", "end")
  also works when exactly one visible button asks for it.
- `POST /automation/screenshot {"name": "benefits"}` -> 200 {"path": ...} after the next frame
- `GET  /automation/texts` -> {"screen", "texts", "targets"}: the visible texts of the current
  screen, top to bottom, and the ids of the buttons a tap would reach now
- `GET  /automation/layout` -> every visible widget's kind, text, box (pixels, y from the top)
  and texture size, after the next frame: the gallery's layout and contrast checks
- `POST /automation/input {"key": 27}` or `{"at": [0.01, 0.99]}` -> 200 {"screen_before",
  "screen"}: a key press as SDL delivers it, or a touch at a point (fractions of the window,
  from the bottom left), for what no button offers (ESC, the back key, the staff exit corner)

The `/control/*` routes are the fleet agent's (docs/contracts/kiosk-status.md, "Control"):
only with a control token file (`[kiosk] control_token_file`), only for loopback clients, and
only with `Authorization: Bearer <the file's content>`; otherwise 404, 403, 401.

- `POST /control/maintenance {"on": bool, "reason": str <= 200}` -> 200 {"on", "pending"}
- `POST /control/screenshot {"max_width": 64..1920}` -> 200 image/png of the next frame;
  409 {"error": "session-active"} while a citizen is served, 503 {"error": "ui-not-ready"}
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import re
import socket
import sys
import threading
import unicodedata
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kiosk.screen_watch import ScreenWatch

log = logging.getLogger(__name__)

MAX_WAIT_S = 300.0
UI_TIMEOUT_S = 10.0  # how long a tap, text or screenshot request waits for the UI thread
_SCREENSHOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

StatusSource = Callable[[], dict[str, Any]]

MAX_CONTROL_BODY = 4 * 1024
MAX_TOKEN_FILE_BYTES = 4 * 1024
MAX_SCREENSHOT_BYTES = 2 * 1024 * 1024
MAX_REASON_CHARS = 200
MIN_SHOT_WIDTH, MAX_SHOT_WIDTH = 64, 1920
DEFAULT_SHOT_WIDTH = 540
SESSION_ACTIVE = "session-active"
UI_NOT_READY = "ui-not-ready"


class AutomationError(Exception):
    def __init__(self, status: HTTPStatus, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


class Automation(Protocol):
    """UI-side operations; each blocks the calling (HTTP) thread until the UI thread is done.

    Raise AutomationError for an answer other than 200.
    """

    def tap(self, target: str, timeout_s: float) -> dict[str, Any]: ...

    def screenshot(self, name: str, timeout_s: float) -> str: ...

    def texts(self, timeout_s: float) -> dict[str, Any]:
        """{"screen": name, "texts": [visible texts, top to bottom], "targets": [button ids]}"""
        ...

    def layout(self, timeout_s: float) -> dict[str, Any]:
        """{"screen", "window": [w, h], "dp": px per dp, "widgets": [{"kind", "box", "text",
        "texture", "tappable", ...}]}: every visible widget's place, for layout checks."""
        ...

    def input(self, event: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """A key press or a touch at a point (see the module's docstring)."""
        ...


class Control(Protocol):
    """The fleet agent's operations on the running kiosk; each blocks the HTTP thread until the
    UI thread is done. Raise AutomationError for an answer other than 200 (409 with
    SESSION_ACTIVE, 503 with UI_NOT_READY)."""

    def maintenance(self, on: bool, reason: str, timeout_s: float) -> dict[str, bool]:
        """{"on": ..., "pending": ...}"""
        ...

    def screenshot_png(self, max_width: int, timeout_s: float) -> bytes:
        """The next frame as PNG, at most `max_width` wide and MAX_SCREENSHOT_BYTES long."""
        ...


class MaintenanceBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    on: Annotated[bool, Field(strict=True)]
    reason: Annotated[str, Field(max_length=MAX_REASON_CHARS, strict=True)] = ""

    @field_validator("reason")
    @classmethod
    def _plain_words(cls, value: str) -> str:
        # Shown to citizens as one line: line breaks and tabs become spaces; any other
        # control character (a bidi override, NUL) is refused.
        value = " ".join(value.split())
        if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in value):
            raise ValueError("control characters are not allowed")
        return value


class ScreenshotBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_width: Annotated[int, Field(ge=MIN_SHOT_WIDTH, le=MAX_SHOT_WIDTH, strict=True)] = (
        DEFAULT_SHOT_WIDTH)


class _ControlToken:
    """The token file, read at each request (so that a rotated token applies at once), as
    hostile data: bounded, stripped; an empty or unreadable file lets nobody in."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._complained = False

    def accepts(self, authorization: str | None) -> bool:
        expected = self._read()
        if not expected or authorization is None:
            return False
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), expected)

    def _read(self) -> bytes:
        try:
            with self._path.open("rb") as fh:
                raw = fh.read(MAX_TOKEN_FILE_BYTES + 1)
        except OSError as exc:
            self._complain(f"cannot be read ({type(exc).__name__})")
            return b""
        token = raw.strip() if len(raw) <= MAX_TOKEN_FILE_BYTES else b""
        if not token:
            self._complain("is empty or too large")
        else:
            self._complained = False
        return token

    def _complain(self, what: str) -> None:
        if not self._complained:  # once per change, not once per request
            self._complained = True
            log.warning("control token file %s %s: control requests refused", self._path, what)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a blocked /automation/wait must not hold up exit

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a readiness probe's short timeout) is not an error worth a
        # traceback on stderr; anything else is logged through our (redacting) logger.
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("status http: client %s went away", client_address)
            return
        log.exception("status http: request from %s failed", client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6  # "::1" (settings allow it for automation)


class StatusServer:
    """Binds at construction (so a taken port fails start-up loudly), serves after `start()`."""

    def __init__(self, host: str, port: int) -> None:
        server = _Server6 if _ip_version(host) == 6 else _Server
        self._httpd = server((host, port), BaseHTTPRequestHandler, False)
        try:
            self._httpd.server_bind()
            self._httpd.server_activate()
        except OSError:
            self._httpd.server_close()
            raise
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._httpd.server_address[0])
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(
        self, status: StatusSource, watch: ScreenWatch, automation: Automation | None = None,
        control: Control | None = None, control_token_file: Path | None = None,
    ) -> None:
        """`control` is served only with `control_token_file` (else /control/* is 404)."""
        token = _ControlToken(control_token_file) if control_token_file is not None else None
        self._httpd.RequestHandlerClass = _make_handler(
            status, watch, automation, control if token is not None else None, token)
        # A short poll interval makes stop() quick; serving itself is select()-driven.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
            name="kiosk-status", daemon=True,
        )
        self._thread.start()
        log.info("status endpoint on %s/status%s%s", self.url,
                 " with automation hooks" if automation is not None else "",
                 " with control routes" if control is not None and token is not None else "")

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()


def _make_handler(
    status: StatusSource, watch: ScreenWatch, automation: Automation | None,
    control: Control | None = None, token: _ControlToken | None = None,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "kiosk-status"
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in two writes: with Nagle on, the body waits for the
            # client's delayed ACK (40 ms) on every kept-alive request.
            with contextlib.suppress(OSError):  # not TCP (a test's socketpair): no delay
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("status http: " + format, *args)

        # Routing -------------------------------------------------------------------------

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/status":
                self._send(HTTPStatus.OK, status())
                return
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            self._automation(url.path, "GET", lambda auto: self._get(auto, url.path, query))

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            # Read the body whatever the route: left unread it would corrupt the next request
            # on this keep-alive connection.
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:  # read(-1) would wait for the client to close the connection
                self.close_connection = True
                self._send(HTTPStatus.BAD_REQUEST, {"error": "bad Content-Length"})
                return
            if url.path.startswith("/control/"):
                self._control(url.path, length)
                return
            if length > 64 * 1024:
                self.close_connection = True
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
                return
            self._raw_body = self.rfile.read(length) if length else b""
            self._automation(url.path, "POST", lambda auto: self._post(auto, url.path))

        # Automation ----------------------------------------------------------------------

        def _automation(
            self, path: str, method: str, run: Callable[[Automation], None]
        ) -> None:
            if automation is None or not path.startswith("/automation/"):
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no route {method} {path}"})
                return
            if not _loopback(self.client_address[0]):
                self._send(HTTPStatus.FORBIDDEN, {"error": "automation is loopback only"})
                return
            try:
                run(automation)
            except AutomationError as exc:
                self._send(exc.status, {"error": str(exc), **exc.extra})

        def _get(self, auto: Automation, path: str, query: dict[str, str]) -> None:
            if path == "/automation/wait":
                screen = query.get("screen", "")
                if not screen:
                    raise AutomationError(HTTPStatus.BAD_REQUEST, "screen is required")
                timeout = _seconds(query.get("timeout", "10"))
                if watch.wait_for(screen, timeout):
                    self._send(HTTPStatus.OK, {"screen": screen})
                else:
                    self._send(
                        HTTPStatus.REQUEST_TIMEOUT,
                        {"error": f"screen {screen!r} not shown within {timeout:g} s",
                         "screen": watch.screen},
                    )
            elif path == "/automation/texts":
                self._send(HTTPStatus.OK, auto.texts(UI_TIMEOUT_S))
            elif path == "/automation/layout":
                self._send(HTTPStatus.OK, auto.layout(UI_TIMEOUT_S))
            else:
                raise AutomationError(HTTPStatus.NOT_FOUND, f"no route GET {path}")

        def _post(self, auto: Automation, path: str) -> None:
            body = self._json_body()
            if path == "/automation/tap":
                target = body.get("target")
                if not isinstance(target, str) or not target:
                    raise AutomationError(HTTPStatus.BAD_REQUEST, "target is required")
                self._send(HTTPStatus.OK, auto.tap(target, UI_TIMEOUT_S))
            elif path == "/automation/screenshot":
                name = body.get("name", "screenshot")
                if not isinstance(name, str) or not _SCREENSHOT_NAME.match(name):
                    raise AutomationError(
                        HTTPStatus.BAD_REQUEST, "name: letters, digits, '-', '_', '.' only"
                    )
                self._send(HTTPStatus.OK, {"path": auto.screenshot(name, UI_TIMEOUT_S)})
            elif path == "/automation/input":
                self._send(HTTPStatus.OK, auto.input(body, UI_TIMEOUT_S))
            else:
                raise AutomationError(HTTPStatus.NOT_FOUND, f"no route POST {path}")

        # Control (the fleet agent) -----------------------------------------------------------

        def _control(self, path: str, length: int) -> None:
            configured = control is not None and token is not None
            if length > MAX_CONTROL_BODY:
                if configured:
                    self._refuse_unread(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                        f"body larger than {MAX_CONTROL_BODY} bytes")
                else:
                    self._refuse_unread(HTTPStatus.NOT_FOUND, f"no route POST {path}")
                return
            # Read even what is refused below: closing on an unread body can reset the
            # connection before the client has read the answer.
            self._raw_body = self.rfile.read(length) if length else b""
            if control is None or token is None:  # (configured, spelt out for the type checker)
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no route POST {path}"})
                return
            if not _loopback(self.client_address[0]):
                self._send(HTTPStatus.FORBIDDEN, {"error": "control is loopback only"})
                return
            if not token.accepts(self.headers.get("Authorization")):
                self._send(HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"})
                return
            try:
                if path == "/control/maintenance":
                    wanted = _validated(MaintenanceBody, self._json_body())
                    log.info("control: maintenance %s", "on" if wanted.on else "off")
                    self._send(HTTPStatus.OK,
                               control.maintenance(wanted.on, wanted.reason, UI_TIMEOUT_S))
                elif path == "/control/screenshot":
                    shot = _validated(ScreenshotBody, self._json_body())
                    png = control.screenshot_png(shot.max_width, UI_TIMEOUT_S)
                    self._send_bytes(HTTPStatus.OK, png, "image/png")
                else:
                    raise AutomationError(HTTPStatus.NOT_FOUND, f"no route POST {path}")
            except AutomationError as exc:
                self._send(exc.status, {"error": str(exc), **exc.extra})

        def _refuse_unread(self, code: HTTPStatus, error: str) -> None:
            # The body is left unread (too large to bother): this connection cannot go on.
            self.close_connection = True
            self._send(code, {"error": error})

        # Plumbing ------------------------------------------------------------------------

        def _json_body(self) -> dict[str, Any]:
            try:
                body = json.loads(self._raw_body or b"{}")
            except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." too deep
                raise AutomationError(HTTPStatus.BAD_REQUEST, "body is not JSON") from exc
            if not isinstance(body, dict):
                raise AutomationError(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
            return body

        def _send(self, code: HTTPStatus, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self._send_bytes(code, data, "application/json; charset=utf-8")

        def _send_bytes(self, code: HTTPStatus, data: bytes, content_type: str) -> None:
            self.send_response(code)
            if self.close_connection:  # tell the client, or it would reuse a closed connection
                self.send_header("Connection", "close")
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

    return Handler


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        # Field locations only: the values a client sent stay out of the answer and the log.
        where = sorted({".".join(str(p)[:32] for p in e["loc"]) or "body" for e in exc.errors()})
        raise AutomationError(HTTPStatus.BAD_REQUEST, "bad body",
                              fields=where[:5]) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise AutomationError(HTTPStatus.BAD_REQUEST, "timeout must be a number") from exc
    return min(max(value, 0.0), MAX_WAIT_S)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ip_version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None  # a name such as "localhost": resolved as IPv4
