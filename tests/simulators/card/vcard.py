"""Test helpers: put virtual cards into the session pcscd's vpcd readers and watch the readers.

The reader state is observed with pyscard's raw API, not with the driver under test, so a
helper never hides a driver bug. Waits block in SCardGetStatusChange until the state changes
or the deadline passes; nothing sleeps.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from smartcard import scard

from common.clock import Deadline
from simulators.card.applet import VirtualCard
from simulators.card.vpcd_link import VpcdLink

# pcscd polls vpcd about every 400 ms; insertion was seen 38-253 ms after the connect and
# removal 138-343 ms after the close. Generous, so that a loaded CI machine does not flake.
STATE_TIMEOUT_S = 10.0


def reader_name(slot: int) -> str:
    return f"Virtual PCD 00 {slot:02d}"


def wait_reader(reader: str, *, present: bool, timeout: float = STATE_TIMEOUT_S) -> int:
    """Block until pcscd reports the reader with (present) or without a card; returns the
    event state. Raises AssertionError on timeout."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
    try:
        deadline = Deadline(timeout)
        current = scard.SCARD_STATE_UNAWARE
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise AssertionError(
                    f"{reader} did not become {'present' if present else 'empty'} in {timeout}s"
                )
            wait_ms = 0 if current == scard.SCARD_STATE_UNAWARE else int(remaining * 1000)
            hresult, states = scard.SCardGetStatusChange(context, wait_ms, [(reader, current)])
            if hresult == scard.SCARD_E_TIMEOUT:
                continue
            assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
            event = states[0][1]
            if bool(event & scard.SCARD_STATE_PRESENT) == present:
                return event
            current = event & ~scard.SCARD_STATE_CHANGED
    finally:
        scard.SCardReleaseContext(context)


class CardSlot:
    """One vpcd reader slot of the session pcscd, with at most one virtual card in it.

    `insert()` replaces any card and returns the link; `remove()` takes it out and waits
    until pcscd has seen it go, so the next test starts with an empty reader.
    """

    def __init__(self, vpcd_port: int, slot: int = 0) -> None:
        self.slot = slot
        self.port = vpcd_port + slot
        self.reader = reader_name(slot)
        self.link: VpcdLink | None = None

    def insert(self, card: VirtualCard, *, wait: bool = False, **link_options: object) -> VpcdLink:
        self.remove()
        link = VpcdLink(card, "127.0.0.1", self.port, **link_options)  # type: ignore[arg-type]
        link.start()
        self.link = link
        if wait:
            wait_reader(self.reader, present=True)
        return link

    def remove(self) -> None:
        if self.link is not None:
            self.link.close()
            self.link = None
        wait_reader(self.reader, present=False)

    def __enter__(self) -> Self:
        wait_reader(self.reader, present=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()
