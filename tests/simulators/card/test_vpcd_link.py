"""The vpcd link against a stand-in vpcd: framing, control bytes, misbehaviour, removal."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from simulators.card.applet import SscCard
from simulators.card.vpcd_link import NOT_AN_ATR, VpcdLink

TIMEOUT_S = 5.0


class FakeVpcd:
    """The reader side: listens like vpcd does and speaks its framing."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.server.settimeout(TIMEOUT_S)
        self.conn, _ = self.server.accept()
        self.conn.settimeout(TIMEOUT_S)

    def send(self, payload: bytes) -> None:
        assert self.conn is not None
        # Two writes, as Debian's vpcd 3.3 does: the length, then the body.
        self.conn.sendall(struct.pack(">H", len(payload)))
        self.conn.sendall(payload)

    def receive(self) -> bytes | None:
        header = self._exactly(2)
        if header is None:
            return None
        return self._exactly(struct.unpack(">H", header)[0])

    def exchange(self, payload: bytes) -> bytes | None:
        self.send(payload)
        return self.receive()

    def _exactly(self, size: int) -> bytes | None:
        assert self.conn is not None
        buf = b""
        while len(buf) < size:
            chunk = self.conn.recv(size - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


def _card(population, protocol="T=1") -> SscCard:
    return SscCard.from_citizen(population.citizen(1), protocol=protocol)


def _connect(vpcd: FakeVpcd, card, **options) -> VpcdLink:
    link = VpcdLink(card, "127.0.0.1", vpcd.port, **options)
    link.start()
    vpcd.accept()
    return link


def test_atr_power_and_apdus(vpcd, population):
    card = _card(population)
    link = _connect(vpcd, card)
    try:
        assert vpcd.exchange(b"\x04") == card.atr
        vpcd.send(b"\x01")  # power on: no answer
        vpcd.send(b"\x02")  # reset: no answer
        response = vpcd.exchange(bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"))
        assert response is not None and response[-2:] == b"\x90\x00"
        vpcd.send(b"\x00")  # power off: no answer
        assert vpcd.exchange(b"\x04") == card.atr
        assert (link.apdus, link.atr_requests) == (1, 2)
    finally:
        link.close()
    assert vpcd.receive() is None  # closing the link is pulling the card
    assert link.close_reason == "removed" and not link.alive


def test_pull_after_apdus_drops_the_connection_on_the_next_apdu(vpcd, population):
    closed = threading.Event()
    reasons = []
    link = _connect(
        vpcd, _card(population), pull_after_apdus=1,
        on_closed=lambda reason: (reasons.append(reason), closed.set()),
    )
    assert vpcd.exchange(bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"))
    assert vpcd.exchange(b"\x04")  # ATR requests do not count
    assert vpcd.exchange(bytes.fromhex("00B2083000")) is None
    assert closed.wait(TIMEOUT_S)
    assert reasons == ["pulled"] and link.apdus == 1
    link.close()  # idempotent after the card went by itself


def test_a_mute_card_gives_no_atr(vpcd, population):
    link = _connect(vpcd, _card(population), mute=True)
    try:
        assert vpcd.exchange(b"\x04") == NOT_AN_ATR
    finally:
        link.close()


class _Signalling:
    """A card that says when it has processed an APDU (the link then sits in its latency)."""

    def __init__(self, card: SscCard) -> None:
        self.card = card
        self.processed = threading.Event()

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def power_on(self) -> None:
        self.card.power_on()

    def power_off(self) -> None:
        self.card.power_off()

    def reset(self) -> None:
        self.card.reset()

    def process(self, command: bytes) -> bytes:
        response = self.card.process(command)
        self.processed.set()
        return response


def test_latency_delays_answers_but_close_cuts_it_short(vpcd, population):
    card = _Signalling(_card(population))
    link = _connect(vpcd, card, latency_s=30.0)
    vpcd.send(bytes.fromhex("00B2083000"))
    assert card.processed.wait(TIMEOUT_S)  # the link is now waiting out its 30 s latency
    done = threading.Event()
    threading.Thread(target=lambda: (link.close(), done.set())).start()
    assert done.wait(TIMEOUT_S)
    assert vpcd.receive() is None
    assert link.close_reason == "removed" and link.apdus == 0


def test_vpcd_going_away_ends_the_link(vpcd, population):
    closed = threading.Event()
    link = _connect(vpcd, _card(population), on_closed=lambda reason: closed.set())
    vpcd.conn.close()
    vpcd.conn = None
    assert closed.wait(TIMEOUT_S)
    assert link.close_reason == "vpcd-closed"


def test_connect_fails_when_vpcd_is_not_listening(population):
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    with pytest.raises(OSError):
        VpcdLink(_card(population), "127.0.0.1", port).start()


def test_quickack_can_be_switched_off(vpcd, population):
    link = _connect(vpcd, _card(population), quickack=False)
    try:
        assert not link.quickack
        assert vpcd.exchange(b"\x04")
    finally:
        link.close()


def test_a_negative_pull_count_is_refused(population):
    with pytest.raises(ValueError, match="pull_after_apdus"):
        VpcdLink(_card(population), pull_after_apdus=-1)


def test_a_stalling_card_answers_n_apdus_then_holds_the_next_until_removed(vpcd, population):
    link = _connect(vpcd, _card(population), stall_after_apdus=1)
    select = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00")
    assert vpcd.exchange(select)
    vpcd.send(bytes.fromhex("00B2083000"))
    assert link.stalled.wait(TIMEOUT_S)
    done = threading.Event()
    threading.Thread(target=lambda: (link.close(), done.set())).start()
    assert done.wait(TIMEOUT_S)
    assert vpcd.receive() is None  # the held APDU was never answered: the card went instead
    assert link.close_reason == "removed" and link.apdus == 1


@pytest.mark.parametrize(
    "options", [{"stall_after_apdus": -1}, {"latency_s": -0.5}], ids=["stall", "latency"]
)
def test_negative_misbehaviour_is_refused(population, options):
    with pytest.raises(ValueError):
        VpcdLink(_card(population), **options)
