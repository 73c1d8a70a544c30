"""The card's side of the vpcd protocol (vsmartcard's "vpicc"), over TCP, in a thread.

Every message both ways is a 2-byte big-endian length and a payload. A 1-byte message from
vpcd is control: 0x00 power off, 0x01 power on, 0x02 reset (no reply), 0x04 send the ATR. A
longer one is a command APDU, answered with the response APDU. Closing the socket is pulling
the card out.

Debian's vpcd 3.3 writes the length and the body separately without TCP_NODELAY, so Nagle's
algorithm holds the body until our ACK of the length, which Linux delays by about 40 ms. We
re-arm TCP_QUICKACK before each recv (the flag does not stick), which makes a round trip about
0.03 ms instead of 44 ms.

Misbehaviour on request: `pull_after_apdus=N` answers N APDUs and then drops the connection
when the next one arrives (the card pulled mid-read); `latency_s` delays every APDU answer;
`stall_after_apdus=N` answers N APDUs and then never answers the next one, holding the reader
until the card is removed (a card that stops answering mid-read: vpcd waits for the answer
without a timeout, so the reader stays wedged until then); `mute` answers the ATR request with
a byte that is no ATR, so pcscd sees a card it cannot power up (a card inserted the wrong way
round).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable

from simulators.card.applet import VirtualCard

log = logging.getLogger(__name__)

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4
NOT_AN_ATR = b"\x00"  # what a mute card answers: pcscd cannot negotiate a protocol with it


class VpcdLink:
    """Connects `card` to vpcd at host:port (one reader slot) and serves it until closed.

    `on_closed(reason)` is called once from the link's thread when the connection ends:
    "removed" (close()), "pulled" (pull_after_apdus), or "vpcd-closed" / "error: ...".
    """

    def __init__(
        self,
        card: VirtualCard,
        host: str = "127.0.0.1",
        port: int = 35963,
        *,
        pull_after_apdus: int | None = None,
        latency_s: float = 0.0,
        stall_after_apdus: int | None = None,
        mute: bool = False,
        quickack: bool = True,
        on_closed: Callable[[str], None] | None = None,
    ) -> None:
        if pull_after_apdus is not None and pull_after_apdus < 0:
            raise ValueError("pull_after_apdus must be >= 0")
        if stall_after_apdus is not None and stall_after_apdus < 0:
            raise ValueError("stall_after_apdus must be >= 0")
        if latency_s < 0:
            raise ValueError("latency_s must be >= 0")
        self.card = card
        self.host = host
        self.port = port
        self.pull_after_apdus = pull_after_apdus
        self.latency_s = latency_s
        self.stall_after_apdus = stall_after_apdus
        self.stalled = threading.Event()  # set once the card holds an APDU unanswered
        self.mute = mute
        self.quickack = quickack and hasattr(socket, "TCP_QUICKACK")
        self.on_closed = on_closed
        self.apdus = 0  # APDUs answered
        self.atr_requests = 0
        self.connected_at: float | None = None
        self.close_reason: str | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._done = threading.Event()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, connect_timeout: float = 5.0) -> None:
        """Connect (the card goes in) and serve in a thread. Raises OSError if vpcd is not
        listening (pcscd not running, or not with the vpcd driver on this port)."""
        sock = socket.create_connection((self.host, self.port), timeout=connect_timeout)
        sock.settimeout(None)
        # Our answers go out in one write; NODELAY keeps the kernel from holding any back.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self.connected_at = time.monotonic()
        self._thread = threading.Thread(
            target=self._serve, name=f"vpcd-link-{self.port}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Pull the card out: close the connection and wait for the thread."""
        self._closing.set()
        self._shutdown()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    # -- the protocol -----------------------------------------------------------------------------
    def _serve(self) -> None:
        reason = "vpcd-closed"
        try:
            while True:
                message = self._receive()
                if message is None:
                    reason = "removed" if self._closing.is_set() else "vpcd-closed"
                    break
                if len(message) == 1:
                    self._control(message[0])
                    continue
                if self.pull_after_apdus is not None and self.apdus >= self.pull_after_apdus:
                    reason = "pulled"
                    log.info("card pulled after %d APDUs, as asked", self.apdus)
                    break
                if self.stall_after_apdus is not None and self.apdus >= self.stall_after_apdus:
                    log.info("card stalls after %d APDUs, as asked", self.apdus)
                    self.stalled.set()
                    self._closing.wait()  # no answer until the card is removed
                    reason = "removed"
                    break
                response = self.card.process(message)
                if self.latency_s > 0 and self._closing.wait(self.latency_s):
                    reason = "removed"
                    break
                # Counted before it is sent: whoever got the answer reads a count that has it
                # (a test that pulls "after the next two" counts from there).
                self.apdus += 1
                self._send(response)
        except OSError as exc:
            reason = "removed" if self._closing.is_set() else f"error: {exc}"
        finally:
            self._shutdown()
            self.close_reason = reason
            self._done.set()
            if self.on_closed is not None:
                try:
                    self.on_closed(reason)
                except Exception:
                    log.exception("on_closed callback failed")

    def _control(self, code: int) -> None:
        if code == CTRL_ATR:
            self.atr_requests += 1
            self._send(NOT_AN_ATR if self.mute else self.card.atr)
        elif code == CTRL_ON:
            self.card.power_on()
        elif code == CTRL_OFF:
            self.card.power_off()
        elif code == CTRL_RESET:
            self.card.reset()
        else:
            log.warning("unknown vpcd control byte %02X", code)

    def _receive(self) -> bytes | None:
        header = self._receive_exactly(2)
        if header is None:
            return None
        (length,) = struct.unpack(">H", header)
        return self._receive_exactly(length) if length else b""

    def _receive_exactly(self, size: int) -> bytes | None:
        sock = self._sock
        if sock is None:
            return None
        buf = bytearray()
        while len(buf) < size:
            if self.quickack:
                # Linux clears QUICKACK after a while: set it before every read (see above).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(size - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def _send(self, payload: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise OSError("not connected")
        sock.sendall(struct.pack(">H", len(payload)) + payload)

    def _shutdown(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in recv
            sock.close()
