"""A small MJPEG server on a real socket, for the URL source: well-behaved, or misbehaving on
purpose (garbage parts, oversized parts, headers and then silence)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

BOUNDARY = b"frame"


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def noise_frames(width: int = 160, height: int = 120, seed: int = 0) -> Iterator[bytes]:
    """Ever-changing mid-grey JPEGs (never frozen, never dark)."""
    rng = np.random.default_rng(seed)
    while True:
        yield jpeg(rng.integers(90, 170, size=(height, width, 3), dtype=np.uint8))


def part(body: bytes, content_type: bytes = b"image/jpeg", length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (b"--" + BOUNDARY + b"\r\nContent-Type: " + content_type +
            b"\r\nContent-Length: " + str(size).encode() + b"\r\n\r\n" + body + b"\r\n")


HEADERS = (b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=" + BOUNDARY +
           b"\r\nCache-Control: no-store\r\n\r\n")

# A behaviour writes the answer to one connection: (socket, stop event) -> None.
Behaviour = Callable[[socket.socket, threading.Event], None]


def streaming(parts: Callable[[], Iterator[bytes]], fps: float = 30.0) -> Behaviour:
    def serve(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(HEADERS)
        for chunk in parts():
            if stop.is_set():
                return
            conn.sendall(chunk)
            stop.wait(1.0 / fps)  # paces the stream like a camera
    return serve


def hanging(conn: socket.socket, stop: threading.Event) -> None:
    """Answers the headers, then sends nothing until the server closes."""
    conn.sendall(HEADERS)
    stop.wait()


@dataclass
class MjpegServer:
    behaviour: Behaviour
    port: int = 0
    connections: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _sock: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    accepted: threading.Event = field(default_factory=threading.Event)

    def start(self) -> MjpegServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(8)
        sock.settimeout(0.1)
        self._sock, self.port = sock, sock.getsockname()[1]
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self.accepted.set()
            thread = threading.Thread(target=self._answer, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(2.0)
                request = b""
                while b"\r\n\r\n" not in request and len(request) < 16384:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                self.behaviour(conn, self._stop)
            except OSError:
                pass  # the client went away

    def close(self) -> None:
        self._stop.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        for thread in self._threads:
            thread.join(3.0)

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
