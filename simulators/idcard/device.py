"""A simulated ID card reader (SAM module) on a pseudo-terminal.

The simulator holds the pty's master end and answers frames; the driver opens the slave, as it
would /dev/ttyUSB0. With `link`, the slave is also reachable at a stable path (a symlink, like
/dev/serial/by-id/...), which survives unplug/replug although each plug is a new pty.

The simulator keeps its own slave descriptor open, so that its master never reads EIO while no
driver has the port open. Unplugging closes both ends: the driver's next read fails with EIO,
its reopen fails (the pts is gone and the link removed), exactly as a USB reader pulled out.

Faults are queued by kind, each for a number of answers or until cleared:
    no-card       find answers 80 although a card lies on the reader
    bad-checksum  the answer's checksum is wrong            (on: read | find | all)
    garbage       random bytes instead of the answer        (on: read | find | all)
    mute          no answer at all                           (on: read | find | all)
    read-fail     the read answers SW3 41 (read card failed)
    sam-fault     every command answers SW3 60 (SAM self-test failed)
    bad-id        the text block's ID number fails its check character
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import stat
import threading
import tty
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from simulators.idcard import protocol
from simulators.idcard.cards import SimIdCard

log = logging.getLogger(__name__)

SLICE_S = 0.05
Target = Literal["read", "find", "all"]


class Fault(StrEnum):
    NO_CARD = "no-card"
    BAD_CHECKSUM = "bad-checksum"
    GARBAGE = "garbage"
    MUTE = "mute"
    READ_FAIL = "read-fail"
    SAM_FAULT = "sam-fault"
    BAD_ID = "bad-id"


_TARGETED = {Fault.BAD_CHECKSUM, Fault.GARBAGE, Fault.MUTE}


@dataclass
class _Queued:
    remaining: int | None  # None: until cleared
    on: Target = "read"


class IdCardDevice:
    """The reader. Thread-safe; `close()` unplugs it for good."""

    def __init__(self, link: str | Path | None = None, *, seed: int = 0) -> None:
        self.link = Path(link) if link is not None else None
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._card: SimIdCard | None = None
        self._faults: dict[Fault, _Queued] = {}
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_name = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.requests: Counter[str] = Counter()
        self.host_errors = 0  # frames of the host's with a bad checksum or length
        self.plug()

    # -- the port -------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """What the driver opens: the link if there is one, else the pty's slave."""
        return str(self.link) if self.link is not None else self._slave_name

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> str:
        """Connect (a new pty); returns the path. Nothing happens when already plugged."""
        with self._lock:
            if self._master is not None:
                return self.path
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line discipline: the bytes are binary frames
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            self._slave_name = os.ttyname(slave)
            if self.link is not None:
                _link(self.link, self._slave_name)
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._serve, args=(master, self._stop),
                                            daemon=True, name="idcard-sim")
            self._thread.start()
            log.info("ID card reader plugged in: %s", self.path)
            return self.path

    def unplug(self) -> None:
        with self._lock:
            if self._master is None:
                return
            self._stop.set()
            thread = self._thread
        if thread is not None:
            thread.join(1.0)
        with self._lock:
            if self.link is not None:
                with contextlib.suppress(FileNotFoundError):
                    self.link.unlink()
            for fd in (self._master, self._slave):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._master = self._slave = None
            self._thread = None
            log.info("ID card reader unplugged")

    replug = plug

    def close(self) -> None:
        self.unplug()

    # -- the card and faults --------------------------------------------------------------------
    def place(self, card: SimIdCard) -> None:
        with self._lock:
            self._card = card
        log.info("ID card placed: %r", card)

    def remove(self) -> bool:
        with self._lock:
            had, self._card = self._card is not None, None
        return had

    @property
    def card(self) -> SimIdCard | None:
        return self._card

    def fault(self, kind: Fault | str, count: int | None = None, on: Target = "read") -> None:
        kind = Fault(kind)
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults[kind] = _Queued(count, on if kind in _TARGETED else "all")

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "plugged": self.plugged,
                "path": self.path if self.plugged else None,
                "link": str(self.link) if self.link is not None else None,
                "pty": self._slave_name if self.plugged else None,
                "card": self._card.summary() if self._card is not None else None,
                "faults": {str(k): {"remaining": q.remaining, "on": q.on}
                           for k, q in self._faults.items()},
                "requests": dict(self.requests),
                "host_errors": self.host_errors,
            }

    # -- answering ------------------------------------------------------------------------------
    def _take(self, kind: Fault, target: str) -> bool:
        """Whether `kind` applies to this answer (and use one of its count)."""
        queued = self._faults.get(kind)
        if queued is None or queued.on not in ("all", target):
            return False
        if queued.remaining is not None:
            queued.remaining -= 1
            if queued.remaining <= 0:
                del self._faults[kind]
        return True

    def answer(self, incoming: protocol.Incoming) -> bytes | None:
        """The bytes the reader sends back for one request (None: it stays silent)."""
        with self._lock:
            if incoming.error is not None:
                self.host_errors += 1
                return protocol.response(incoming.error)
            command = (incoming.cmd, incoming.para)
            target = {protocol.FIND_CARD: "find", protocol.READ_BASE: "read"}.get(command,
                                                                                   "other")
            self.requests[f"{incoming.cmd:02X}{incoming.para:02X}"] += 1
            if self._take(Fault.SAM_FAULT, target):
                return protocol.response(protocol.SAM_SELF_TEST_FAILED)
            if self._take(Fault.MUTE, target):
                return None
            body = self._answer(command)
            if self._take(Fault.GARBAGE, target):
                # No 0xAA, so the noise can never pass for a preamble.
                return bytes(self._rng.choice(range(0x00, 0xAA)) for _ in range(64))
            if self._take(Fault.BAD_CHECKSUM, target):
                return body[:-1] + bytes([body[-1] ^ 0xFF])
            return body

    def _answer(self, command: tuple[int, int]) -> bytes:
        card = self._card
        if command == protocol.FIND_CARD:
            if card is None or self._take(Fault.NO_CARD, "find"):
                return protocol.response(protocol.NO_CARD)
            return protocol.response(protocol.FIND_OK, card.iin)
        if command == protocol.SELECT_CARD:
            return (protocol.response(protocol.SUCCESS, card.serial_number) if card is not None
                    else protocol.response(protocol.SELECT_FAILED))
        if command == protocol.READ_BASE:
            if card is None or self._take(Fault.READ_FAIL, "read"):
                return protocol.response(protocol.READ_FAILED)
            if self._take(Fault.BAD_ID, "read"):
                card = card.with_bad_check_char()
            return protocol.response(protocol.SUCCESS, protocol.base_info(card.text(), card.photo))
        return _FIXED.get(command, protocol.response(protocol.BAD_COMMAND))

    def _serve(self, master: int, stop: threading.Event) -> None:
        parser = protocol.RequestParser()
        while not stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], SLICE_S)
                if not ready:
                    continue
                data = os.read(master, 4096)
            except BlockingIOError:
                continue
            except OSError:  # the slave side hung up; keep serving until unplugged
                stop.wait(SLICE_S)
                continue
            for incoming in parser.feed(data):
                out = self.answer(incoming)
                if out:
                    _write_all(master, out, stop)


# Answers that depend on no card: no appended address, a healthy SAM, a fixed SAM ID.
_FIXED: dict[tuple[int, int], bytes] = {
    protocol.READ_ADDRESS: protocol.response(protocol.NO_CONTENT),
    protocol.RESET_SAM: protocol.response(protocol.SUCCESS),
    protocol.SAM_STATUS: protocol.response(protocol.SUCCESS),
    protocol.SAM_ID: protocol.response(protocol.SUCCESS, bytes(range(16))),
}


def _write_all(fd: int, data: bytes, stop: threading.Event) -> None:
    view = memoryview(data)
    while view and not stop.is_set():
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            # The driver is not reading (closed, or busy): wait a little, never for ever.
            _, ready, _ = select.select([], [fd], [], SLICE_S)
            if not ready:
                return
            continue
        except OSError:
            return
        view = view[written:]


def _link(link: Path, target: str) -> None:
    """Point `link` at `target` atomically, in a folder only this user can write."""
    folder = link.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{folder} is not a folder of this user's")
    temporary = folder / f".{link.name}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    temporary.symlink_to(target)
    os.replace(temporary, link)

