"""A serial QR scanner on a pseudo-terminal: the driver opens the slave like /dev/ttyACM0.

    scanner = PtyScanner("/tmp/hrss-sim/qr-scanner")   # a symlink to the pty's slave
    scanner.open()
    scanner.scan("AgAAAB...")                           # the code as the scanner types it
    scanner.scan("AgAAAB...", split=3, gap_s=0.05)      # arriving in three pieces
    scanner.noise(40)                                   # line noise (seeded)
    scanner.unplug(); scanner.replug()                  # the USB cable pulled and put back
    scanner.close()

Unplugging closes the master side (the driver's reads fail with EIO, as on a vanished
/dev/ttyACM0) and removes the link; replugging opens a new pty and points the link at it.
The slave is put in raw mode at once and kept open by the simulator too, so bytes written
before the driver opens it neither echo back nor fail.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import tempfile
import threading
import time
import tty
from pathlib import Path

log = logging.getLogger(__name__)

TERMINATORS = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}
# The link the simulated driver opens by default (drivers.qr.serial.DEFAULT_SIM_PORT, the
# same path: simulators do not import the drivers they test); HRSS_SIM_QR_LINK overrides both.
DEFAULT_LINK = os.path.join(tempfile.gettempdir(), "hrss-sim", "qr-scanner")
LINK_ENV = "HRSS_SIM_QR_LINK"


def sim_port() -> str:
    return os.environ.get(LINK_ENV) or DEFAULT_LINK

MAX_WRITE = 64 * 1024  # one scan or noise burst; more is no scanner


class Unplugged(RuntimeError):
    """A write while the scanner is unplugged."""


class PtyScanner:
    def __init__(self, link: str | Path | None = None, *, seed: int = 0) -> None:
        self.link = Path(link or sim_port())
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_name = ""
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.scans = 0
        self.plugged = False

    @property
    def path(self) -> str:
        """What the driver opens: the link."""
        return str(self.link)

    @property
    def slave_name(self) -> str:
        return self._slave_name

    def open(self) -> PtyScanner:
        with self._lock:
            if self._master is None:
                self._plug()
        return self

    def close(self) -> None:
        with self._lock:
            self._unplug()

    def __enter__(self) -> PtyScanner:
        return self.open()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def unplug(self) -> None:
        with self._lock:
            self._unplug()

    def replug(self) -> None:
        with self._lock:
            self._unplug()
            self._plug()

    def scan(self, payload: str | bytes, *, terminator: str = "CR", prefix: bytes = b"",
             suffix: bytes = b"", split: int = 1, gap_s: float = 0.0,
             noise_before: int = 0) -> int:
        """Type one code as a scanner does; returns the bytes written. `split` pieces with
        `gap_s` between them model a frame that arrives in parts."""
        data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        frame = self._noise(noise_before) + prefix + data + suffix + TERMINATORS[terminator]
        if len(frame) > MAX_WRITE:
            raise ValueError(f"a scan is at most {MAX_WRITE} bytes")
        pieces = max(1, min(split, len(frame)))
        size = -(-len(frame) // pieces)
        for start in range(0, len(frame), size):
            if start and gap_s > 0:
                time.sleep(gap_s)  # the scanner's own pace between pieces, not a test wait
            self.write_raw(frame[start:start + size])
        self.scans += 1
        return len(frame)

    def noise(self, n_bytes: int) -> int:
        """`n_bytes` of seeded line noise, control bytes and all."""
        return self.write_raw(self._noise(n_bytes))

    def write_raw(self, data: bytes) -> int:
        if len(data) > MAX_WRITE:
            raise ValueError(f"a write is at most {MAX_WRITE} bytes")
        with self._lock:
            if self._master is None:
                raise Unplugged("the scanner is unplugged")
            view = memoryview(data)
            while view:
                written = os.write(self._master, view)
                view = view[written:]
        return len(data)

    def status(self) -> dict[str, object]:
        return {"plugged": self.plugged, "link": self.path, "pty": self._slave_name,
                "scans": self.scans}

    def _noise(self, n_bytes: int) -> bytes:
        if not 0 <= n_bytes <= MAX_WRITE:
            raise ValueError(f"noise is 0..{MAX_WRITE} bytes")
        # No terminator bytes: noise must not end a frame by luck in a way a test can't foresee.
        alphabet = [b for b in range(256) if b not in (0x0A, 0x0D)]
        return bytes(self._random.choice(alphabet) for _ in range(n_bytes))

    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line discipline: bytes pass as written
        self._master, self._slave = master, slave
        self._slave_name = os.ttyname(slave)
        self.link.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        temporary.symlink_to(self._slave_name)
        temporary.replace(self.link)  # atomic: the driver never sees a half-made link
        self.plugged = True
        log.info("qr scanner plugged in: %s -> %s", self.link, self._slave_name)

    def _unplug(self) -> None:
        if self._master is None:
            return
        with contextlib.suppress(FileNotFoundError):
            if self.link.is_symlink() and os.readlink(self.link) == self._slave_name:
                self.link.unlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        self.plugged = False
        log.info("qr scanner unplugged: %s", self.link)
