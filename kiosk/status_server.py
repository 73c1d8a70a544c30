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
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from kiosk.screen_watch import ScreenWatch

log = logging.getLogger(__name__)

MAX_WAIT_S = 300.0
UI_TIMEOUT_S = 10.0  # how long a tap, text or screenshot request waits for the UI thread
_SCREENSHOT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

StatusSource = Callable[[], dict[str, Any]]


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
        self, status: StatusSource, watch: ScreenWatch, automation: Automation | None = None
    ) -> None:
        self._httpd.RequestHandlerClass = _make_handler(status, watch, automation)
        # A short poll interval makes stop() quick; serving itself is select()-driven.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
            name="kiosk-status", daemon=True,
        )
        self._thread.start()
        log.info("status endpoint on %s/status%s", self.url,
                 " with automation hooks" if automation is not None else "")

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()


def _make_handler(
    status: StatusSource, watch: ScreenWatch, automation: Automation | None
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "kiosk-status"
        protocol_version = "HTTP/1.1"

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
            else:
                raise AutomationError(HTTPStatus.NOT_FOUND, f"no route POST {path}")

        # Plumbing ------------------------------------------------------------------------

        def _json_body(self) -> dict[str, Any]:
            try:
                body = json.loads(self._raw_body or b"{}")
            except ValueError as exc:
                raise AutomationError(HTTPStatus.BAD_REQUEST, "body is not JSON") from exc
            if not isinstance(body, dict):
                raise AutomationError(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
            return body

        def _send(self, code: HTTPStatus, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

    return Handler


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
