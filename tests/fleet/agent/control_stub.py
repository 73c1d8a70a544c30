"""A stub kiosk: `GET /status` (the kiosk status contract) and the control API of
fleet/agent/kiosk_control.py (`POST /control/maintenance`, `POST /control/screenshot`), with
answers the test sets and every control request recorded."""

from __future__ import annotations

import io
import json
import random
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.fleet.support import kiosk_status

TOKEN = "s3cret-token"


def png_bytes(width: int = 320, height: int = 200, noisy: bool = False) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (width, height), (20, 90, 160))
    if noisy:  # random pixels do not compress: forces scaling down
        image = Image.frombytes("RGB", (width, height),
                                random.Random(7).randbytes(width * height * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def write_token(directory: Path, token: str = TOKEN) -> Path:
    path = directory / "control.token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


@dataclass
class Seen:
    path: str
    authorization: str
    body: Any


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up on a too-large answer is what some tests do


@dataclass
class StubKiosk:
    status: dict[str, Any] = field(default_factory=kiosk_status)
    maintenance: tuple[int, dict[str, Any]] | None = None  # None: echo {"on", "pending"}
    screenshot: tuple[int, bytes, str] = (200, b"", "image/png")
    seen: list[Seen] = field(default_factory=list)
    pending: bool = False

    def __post_init__(self) -> None:
        self.screenshot = (200, png_bytes(), "image/png")
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != "/status":
                    self._send(404, b"{}", "application/json")
                    return
                self._send(200, json.dumps(stub.status).encode(), "application/json")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(length, 65536))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                auth = self.headers.get("Authorization", "")
                stub.seen.append(Seen(self.path, auth, body))
                if auth != f"Bearer {TOKEN}":
                    self._send(401, b'{"error": "unauthorized"}', "application/json")
                elif self.path == "/control/maintenance":
                    if stub.maintenance is not None:
                        status, answer = stub.maintenance
                    else:
                        status, answer = 200, {"on": body["on"], "pending": stub.pending}
                    self._send(status, json.dumps(answer).encode(), "application/json")
                elif self.path == "/control/screenshot":
                    self._send(*stub.screenshot)
                else:
                    self._send(404, b'{"error": "not-configured"}', "application/json")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/status"

    def session(self, active: bool) -> None:
        self.status = {**self.status, "session_active": active}

    def refuse_screenshot(self, status: int, error: str) -> None:
        self.screenshot = (status, json.dumps({"error": error}).encode(), "application/json")

    def control_requests(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
