"""Byte links to a receipt printer: TCP (raw port 9100), a serial port, a device file.

python-escpos's own printer classes set a per-operation timeout at best (`Network(timeout=)`,
60 s by default) and read status with one `recv(16)` that takes a closed socket for "paper OK"
(print-notes.md 2). Here every call takes a `Deadline` for the whole operation, a closed or
silent peer is an error, and `abort()` from another thread unblocks a call in progress (so
the driver's stop() never waits on the printer).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from common.clock import Deadline

DEFAULT_TCP_PORT = 9100
DEFAULT_BAUDRATE = 19200
WRITE_CHUNK = 4096


class LinkError(OSError):
    """The printer cannot be reached, went away, or did not take the bytes in time."""


class Link(Protocol):
    description: str

    def open(self, deadline: Deadline) -> None: ...

    def write(self, data: bytes, deadline: Deadline) -> None: ...

    def read(self, size: int, deadline: Deadline) -> bytes:
        """Up to `size` bytes; b"" when nothing came before the deadline."""
        ...

    def discard_input(self) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None:
        """From another thread: make a blocked call return (with LinkError) soon."""
        ...


class TcpLink:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.description = f"tcp://{host}:{port}"
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def open(self, deadline: Deadline) -> None:
        self.close()
        try:
            sock = socket.create_connection((self.host, self.port),
                                            timeout=max(deadline.remaining(), 0.01))
        except OSError as exc:
            raise LinkError(f"cannot connect to {self.description}: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sock = sock

    def _socket(self) -> socket.socket:
        sock = self._sock
        if sock is None:
            raise LinkError(f"{self.description} is not open")
        return sock

    def write(self, data: bytes, deadline: Deadline) -> None:
        sock = self._socket()
        view = memoryview(data)
        try:
            while view:
                remaining = deadline.remaining()
                if remaining <= 0:
                    raise LinkError(f"{self.description} did not take the data in time")
                sock.settimeout(remaining)
                sent = sock.send(view[:WRITE_CHUNK])
                view = view[sent:]
        except TimeoutError as exc:
            raise LinkError(f"{self.description} did not take the data in time") from exc
        except OSError as exc:
            raise LinkError(f"{self.description}: {exc}") from exc

    def read(self, size: int, deadline: Deadline) -> bytes:
        sock = self._socket()
        remaining = deadline.remaining()
        if remaining <= 0:
            return b""
        try:
            sock.settimeout(remaining)
            data = sock.recv(size)
        except TimeoutError:
            return b""
        except OSError as exc:
            raise LinkError(f"{self.description}: {exc}") from exc
        if not data:  # the printer closed the connection: never "paper OK"
            raise LinkError(f"{self.description} closed the connection")
        return data

    def discard_input(self) -> None:
        sock = self._sock
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.setblocking(False)
            try:
                while sock.recv(256):
                    pass
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)

    def close(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def abort(self) -> None:
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class FdLink:
    """A device file: /dev/usb/lp0 (usblp), a pty, a serial port opened as a file.

    Non-blocking file descriptor plus select(), so each call honours its deadline. A serial
    port is set raw by pyserial (SerialLink); a pty is set raw by whoever owns it.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.description = path
        self._fd: int | None = None
        self._wake_r, self._wake_w = -1, -1
        self._lock = threading.Lock()

    def open(self, deadline: Deadline) -> None:
        self.close()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise LinkError(f"cannot open {self.path}: {exc}") from exc
        wake_r, wake_w = os.pipe()
        with self._lock:
            self._fd, self._wake_r, self._wake_w = fd, wake_r, wake_w

    def _fileno(self) -> int:
        fd = self._fd
        if fd is None:
            raise LinkError(f"{self.path} is not open")
        return fd

    def _wait(self, fd: int, *, writable: bool, deadline: Deadline) -> bool:
        remaining = deadline.remaining()
        if remaining <= 0:
            return False
        rlist = [self._wake_r] + ([] if writable else [fd])
        wlist = [fd] if writable else []
        try:
            ready_r, ready_w, _ = select.select(rlist, wlist, [], remaining)
        except (OSError, ValueError) as exc:
            raise LinkError(f"{self.path}: {exc}") from exc
        if self._wake_r in ready_r:
            raise LinkError(f"{self.path}: aborted")
        return bool(ready_w or ready_r)

    def write(self, data: bytes, deadline: Deadline) -> None:
        fd = self._fileno()
        view = memoryview(data)
        while view:
            if not self._wait(fd, writable=True, deadline=deadline):
                raise LinkError(f"{self.path} did not take the data in time")
            try:
                written = os.write(fd, view[:WRITE_CHUNK])
            except BlockingIOError:
                continue
            except OSError as exc:
                raise LinkError(f"{self.path}: {exc}") from exc
            view = view[written:]

    def read(self, size: int, deadline: Deadline) -> bytes:
        fd = self._fileno()
        while self._wait(fd, writable=False, deadline=deadline):
            try:
                data = os.read(fd, size)
            except BlockingIOError:
                continue
            except OSError as exc:  # EIO: the pty's other side closed
                raise LinkError(f"{self.path}: {exc}") from exc
            if data:
                return data
            raise LinkError(f"{self.path}: end of file")
        return b""

    def discard_input(self) -> None:
        fd = self._fd
        if fd is None:
            return
        with contextlib.suppress(OSError):
            while os.read(fd, 256):
                pass

    def close(self) -> None:
        with self._lock:
            fds = (self._fd, self._wake_r, self._wake_w)
            self._fd, self._wake_r, self._wake_w = None, -1, -1
        for fd in fds:
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def abort(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")


class SerialLink(FdLink):
    """A serial port: pyserial sets the line (baud rate, raw, 8N1), then it is a device file."""

    def __init__(self, path: str, baudrate: int = DEFAULT_BAUDRATE) -> None:
        super().__init__(path)
        self.baudrate = baudrate
        self.description = f"serial:{path}?baudrate={baudrate}"
        self._serial: object | None = None

    def open(self, deadline: Deadline) -> None:
        import serial  # pyserial: only terminals with a serial printer load it

        self.close()
        try:
            port = serial.Serial(self.path, self.baudrate, timeout=0, write_timeout=0,
                                 exclusive=False)
        except (OSError, serial.SerialException) as exc:
            raise LinkError(f"cannot open {self.description}: {exc}") from exc
        wake_r, wake_w = os.pipe()
        with self._lock:
            self._serial = port
            self._fd, self._wake_r, self._wake_w = port.fileno(), wake_r, wake_w

    def close(self) -> None:
        with self._lock:
            port, self._serial = self._serial, None
            wakes = (self._wake_r, self._wake_w)
            self._fd, self._wake_r, self._wake_w = None, -1, -1
        for fd in wakes:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()  # type: ignore[attr-defined]


def link_for(connection: str) -> Link:
    """"tcp://host[:port]", "serial:/dev/ttyS0[?baudrate=N]", "file:/dev/usb/lp0" or a path."""
    if connection.startswith("tcp://"):
        parts = urlsplit(connection)
        if not parts.hostname:
            raise ValueError(f"no host in {connection!r}")
        return TcpLink(parts.hostname, parts.port or DEFAULT_TCP_PORT)
    if connection.startswith("serial:"):
        parts = urlsplit(connection)
        baud = parse_qs(parts.query).get("baudrate", [str(DEFAULT_BAUDRATE)])[0]
        if not baud.isdigit() or not 1200 <= int(baud) <= 921600:
            raise ValueError(f"bad baud rate in {connection!r}")
        if not parts.path.startswith("/"):
            raise ValueError(f"no device path in {connection!r}")
        return SerialLink(parts.path, int(baud))
    path = connection.removeprefix("file:")
    if not path.startswith("/"):
        raise ValueError(f"a printer connection is tcp://, serial: or a device path: "
                         f"{connection!r}")
    return FdLink(path)
