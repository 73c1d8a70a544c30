"""A small real HTTP server on loopback that answers like the edge from a script (stdlib).

Hostile answers on demand: dropped connections, hangs, bytes trickled one at a time, a lying
Content-Length. Shared by the edge client's tests and the flow's attempt-counting test.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    status: int
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    hang: bool = False  # never answer (until the test ends)
    trickle_s: float = 0.0  # send the answer one byte at a time, this far apart
    declared_length: int | None = None  # a Content-Length other than the body's


def problem(status: int, code: str, **extra: Any) -> Answer:
    body = {"type": f"https://hrss-kiosk.example/problems/{code}", "title": "Operator text",
            "status": status, "code": code, **extra}
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra.pop("retry_after"))
        body.pop("retry_after")
    return Answer(status, body, "application/problem+json", headers)


class FakeEdge:
    """Answers each request with the next scripted Answer and records what it saw."""

    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.seen: list[Seen] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                fake.seen.append(Seen(self.command, self.path, dict(self.headers),
                                      json.loads(raw) if raw else None))
                answer = fake.script.pop(0) if len(fake.script) > 1 else fake.script[0]
                if answer.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                if answer.hang:
                    fake.release.wait(10)
                    return
                data = b"" if answer.body is None else (
                    answer.body.encode() if isinstance(answer.body, str)
                    else json.dumps(answer.body).encode()
                )
                length = len(data) if answer.declared_length is None else answer.declared_length
                head = (f"HTTP/1.1 {answer.status} X\r\nContent-Type: {answer.content_type}\r\n"
                        f"Content-Length: {length}\r\n"
                        + "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
                        + "\r\n").encode()
                if not answer.trickle_s:
                    self.wfile.write(head + data)
                    return
                for i in range(len(head + data)):  # headers and body, a byte at a time
                    if fake.release.wait(answer.trickle_s):
                        return
                    try:
                        self.wfile.write((head + data)[i:i + 1])
                        self.wfile.flush()
                    except OSError:
                        return

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
