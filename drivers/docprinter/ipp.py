"""A small IPP/1.1 client over HTTP (RFC 8010/8011): the four operations a kiosk needs.

Print-Job, Get-Job-Attributes, Cancel-Job and Get-Printer-Attributes, against CUPS at
http://HOST:PORT/printers/QUEUE. Why not pycups: libcups has no per-call timeout, pycups keeps
the server process-global (and sends requests to the device URI when the connection differs
from it: print-notes.md 1), and it needs a C build. Here each call is one HTTP/1.1 exchange
on its own loopback connection, every socket operation clamped to the call's total deadline,
the answer capped in size and parsed as untrusted data: bounded lengths, unknown tags
skipped, a malformed message an IppError. (Plain sockets: drivers do not import httpx.)
"""

from __future__ import annotations

import itertools
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

from common.clock import Deadline

MAX_RESPONSE = 1 << 20  # CUPS answers a few KB; a printer's full attribute set ~30 KB
MAX_HEADERS = 16 * 1024

# Operations
PRINT_JOB = 0x0002
CANCEL_JOB = 0x0008
GET_JOB_ATTRIBUTES = 0x0009
GET_PRINTER_ATTRIBUTES = 0x000B

# Delimiter tags
OPERATION_ATTRIBUTES = 0x01
JOB_ATTRIBUTES = 0x02
END_OF_ATTRIBUTES = 0x03
PRINTER_ATTRIBUTES = 0x04

# Value tags
INTEGER, BOOLEAN, ENUM = 0x21, 0x22, 0x23
TEXT, NAME, KEYWORD, URI, CHARSET, LANGUAGE, MIME = 0x41, 0x42, 0x44, 0x45, 0x47, 0x48, 0x49

# Job states (RFC 8011 5.3.7)
JOB_PENDING, JOB_HELD, JOB_PROCESSING, JOB_STOPPED = 3, 4, 5, 6
JOB_CANCELED, JOB_ABORTED, JOB_COMPLETED = 7, 8, 9
# Printer states
PRINTER_IDLE, PRINTER_PROCESSING, PRINTER_STOPPED = 3, 4, 5


class IppError(Exception):
    """No answer, an HTTP error, a malformed answer, or an IPP error status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the IPP status-code, when the answer had one


@dataclass
class IppResponse:
    status: int
    request_id: int
    groups: list[tuple[int, dict[str, list[Any]]]] = field(default_factory=list)

    def first(self, group: int) -> dict[str, list[Any]]:
        return next((attrs for tag, attrs in self.groups if tag == group), {})

    @property
    def ok(self) -> bool:
        return self.status < 0x0100  # successful-ok and its -ignored-/-conflicting variants


def _attribute(tag: int, name: str, value: bytes | str | int) -> bytes:
    if isinstance(value, bool):
        raw = b"\x01" if value else b"\x00"
    elif isinstance(value, int):
        raw = struct.pack(">i", value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
    else:
        raw = value
    encoded = name.encode("ascii")
    return struct.pack(">BH", tag, len(encoded)) + encoded + struct.pack(">H", len(raw)) + raw


def encode(operation: int, request_id: int, attributes: list[tuple[int, str, Any]]) -> bytes:
    body = struct.pack(">BBHI", 1, 1, operation, request_id)
    body += bytes([OPERATION_ATTRIBUTES])
    body += _attribute(CHARSET, "attributes-charset", "utf-8")
    body += _attribute(LANGUAGE, "attributes-natural-language", "en")
    for tag, name, value in attributes:
        values = value if isinstance(value, list) else [value]
        for index, one in enumerate(values):
            body += _attribute(tag, name if index == 0 else "", one)
    return body + bytes([END_OF_ATTRIBUTES])


def _value(tag: int, raw: bytes) -> Any:
    if tag in (INTEGER, ENUM) and len(raw) == 4:
        return struct.unpack(">i", raw)[0]
    if tag == BOOLEAN and len(raw) == 1:
        return raw != b"\x00"
    if 0x40 <= tag <= 0x5F:  # character-string values
        return raw.decode("utf-8", errors="replace")
    return raw  # octetString, dateTime, resolution, ranges...: kept raw


def decode(data: bytes) -> IppResponse:
    if len(data) < 9:
        raise IppError("IPP answer too short")
    _major, _minor, status, request_id = struct.unpack(">BBHI", data[:8])
    response = IppResponse(status=status, request_id=request_id)
    pos = 8
    current: dict[str, list[Any]] | None = None
    last_name = ""
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag == END_OF_ATTRIBUTES:
            return response
        if tag < 0x10:  # a new attribute group
            current = {}
            response.groups.append((tag, current))
            continue
        if current is None or pos + 2 > len(data):
            raise IppError("malformed IPP answer (value outside a group)")
        (name_len,) = struct.unpack(">H", data[pos:pos + 2])
        pos += 2
        name = data[pos:pos + name_len].decode("ascii", errors="replace")
        pos += name_len
        if pos + 2 > len(data):
            raise IppError("malformed IPP answer (truncated value)")
        (value_len,) = struct.unpack(">H", data[pos:pos + 2])
        pos += 2
        if pos + value_len > len(data):
            raise IppError("malformed IPP answer (value past the end)")
        value = _value(tag, data[pos:pos + value_len])
        pos += value_len
        if name:
            last_name = name
            current[name] = [value]
        elif last_name:  # an additional value of the attribute before
            current[last_name].append(value)
    raise IppError("malformed IPP answer (no end-of-attributes)")


class IppClient:
    """One CUPS queue. Thread-safe; every call takes a Deadline for the whole exchange."""

    def __init__(self, server: str, queue: str, *, user: str = "kiosk") -> None:
        host, _, port = server.partition(":")
        if not host or (port and not port.isdigit()):
            raise ValueError(f"server is host[:port], not {server!r}")
        self.base_url = f"http://{host}:{port or 631}"
        self.queue = queue
        self.printer_uri = f"ipp://{host}:{port or 631}/printers/{queue}"
        self.user = user
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()
        self._host, self._port = host, int(port or 631)

    def _next_id(self) -> int:
        with self._id_lock:
            return next(self._ids) % 0x7FFFFFFF or 1

    def call(self, operation: int, attributes: list[tuple[int, str, Any]], deadline: Deadline,
             document: bytes = b"") -> IppResponse:
        body = encode(operation, self._next_id(), attributes) + document
        response = decode(self._post(f"/printers/{self.queue}", body, deadline))
        if not response.ok:
            message = response.first(OPERATION_ATTRIBUTES).get("status-message", [""])[0]
            raise IppError(f"IPP status 0x{response.status:04x} {message}".strip(),
                           status=response.status)
        return response

    def _post(self, path: str, body: bytes, deadline: Deadline) -> bytes:
        where = f"CUPS at {self.base_url}"
        if deadline.expired:
            raise IppError(f"{where}: deadline passed before the call")
        try:
            sock = socket.create_connection((self._host, self._port),
                                            timeout=max(deadline.remaining(), 0.001))
        except OSError as exc:
            raise IppError(f"{where} not reachable: {exc}") from exc
        with sock:
            head = (f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
                    f"Content-Type: application/ipp\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n").encode("ascii")
            try:
                _send(sock, head + body, deadline)
                return _HttpAnswer(sock, deadline).body()
            except TimeoutError as exc:
                raise IppError(f"{where}: no complete answer within the deadline") from exc
            except OSError as exc:
                raise IppError(f"{where}: {exc}") from exc

    def print_job(self, document: bytes, title: str, deadline: Deadline) -> int:
        response = self.call(PRINT_JOB, [
            (URI, "printer-uri", self.printer_uri),
            (NAME, "requesting-user-name", self.user),
            (NAME, "job-name", title),
            (MIME, "document-format", "application/pdf"),
        ], deadline, document)
        job_id = response.first(JOB_ATTRIBUTES).get("job-id", [None])[0]
        if not isinstance(job_id, int):
            raise IppError("Print-Job answered without a job-id")
        return job_id

    def job_attributes(self, job_id: int, deadline: Deadline) -> dict[str, list[Any]]:
        response = self.call(GET_JOB_ATTRIBUTES, [
            (URI, "printer-uri", self.printer_uri),
            (INTEGER, "job-id", job_id),
            (NAME, "requesting-user-name", self.user),
            (KEYWORD, "requested-attributes", ["job-state", "job-state-reasons",
                                                "job-printer-state-message",
                                                "job-impressions-completed",
                                                "job-media-sheets-completed"]),
        ], deadline)
        return response.first(JOB_ATTRIBUTES)

    def cancel_job(self, job_id: int, deadline: Deadline) -> None:
        self.call(CANCEL_JOB, [
            (URI, "printer-uri", self.printer_uri),
            (INTEGER, "job-id", job_id),
            (NAME, "requesting-user-name", self.user),
        ], deadline)

    def printer_attributes(self, deadline: Deadline) -> dict[str, list[Any]]:
        response = self.call(GET_PRINTER_ATTRIBUTES, [
            (URI, "printer-uri", self.printer_uri),
            (NAME, "requesting-user-name", self.user),
            (KEYWORD, "requested-attributes", ["printer-state", "printer-state-reasons",
                                                "printer-state-message",
                                                "printer-is-accepting-jobs",
                                                "marker-levels", "marker-names"]),
        ], deadline)
        return response.first(PRINTER_ATTRIBUTES)


def _send(sock: socket.socket, data: bytes, deadline: Deadline) -> None:
    view = memoryview(data)
    while view:
        sock.settimeout(_left(deadline))
        view = view[sock.send(view[:65536]):]


def _left(deadline: Deadline) -> float:
    left = deadline.remaining()
    if left <= 0:  # a socket timeout of 0 would mean non-blocking, not "none left"
        raise TimeoutError("deadline passed")
    return left


class _HttpAnswer:
    """An HTTP/1.1 answer read from a socket: status, headers, a bounded body (Content-Length,
    chunked, or up to the close)."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock, self._deadline = sock, deadline
        self._buf = b""

    def _more(self) -> bool:
        self._sock.settimeout(_left(self._deadline))
        chunk = self._sock.recv(65536)
        self._buf += chunk
        if len(self._buf) > MAX_RESPONSE + MAX_HEADERS:
            raise IppError("IPP answer too large")
        return bool(chunk)

    def _line(self, limit: int) -> bytes:
        while b"\r\n" not in self._buf:
            if len(self._buf) > limit or not self._more():
                raise IppError("malformed HTTP answer (no line end)")
        line, self._buf = self._buf.split(b"\r\n", 1)
        return line

    def _headers(self) -> tuple[int, dict[str, str]]:
        while True:
            status_line = self._line(MAX_HEADERS).decode("latin-1")
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise IppError("malformed HTTP status line")
            headers: dict[str, str] = {}
            size = 0
            while line := self._line(MAX_HEADERS):
                size += len(line)
                if size > MAX_HEADERS:
                    raise IppError("HTTP headers too large")
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if parts[1] != "100":  # 100 Continue comes before the real answer
                return int(parts[1]), headers

    def _exactly(self, size: int) -> bytes:
        if size > MAX_RESPONSE:
            raise IppError("IPP answer too large")
        while len(self._buf) < size:
            if not self._more():
                raise IppError("HTTP answer cut short")
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def body(self) -> bytes:
        status, headers = self._headers()
        if status != 200:
            raise IppError(f"CUPS answered HTTP {status}")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_field = self._line(64).split(b";", 1)[0].strip()
                try:
                    size = int(size_field, 16)
                except ValueError:
                    raise IppError("malformed chunk size") from None
                if size == 0:
                    return b"".join(chunks)
                total += size
                if total > MAX_RESPONSE:
                    raise IppError("IPP answer too large")
                chunks.append(self._exactly(size))
                self._exactly(2)  # the chunk's CRLF
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise IppError("malformed Content-Length")
            return self._exactly(int(length))
        while self._more():
            pass
        return self._buf
