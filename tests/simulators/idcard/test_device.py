"""The simulated reader on its pty, spoken to byte by byte (no driver): the published frames,
faults, the host's bad frames, and unplug/replug behind a stable link."""

from __future__ import annotations

import datetime as dt
import os
import select
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.central.population import Population
from simulators.idcard import protocol
from simulators.idcard.cards import add_years, card_for_citizen, term_years
from simulators.idcard.device import IdCardDevice

TODAY = dt.date(2026, 12, 2)
FIND = bytes.fromhex("AAAAAA9669 0003 2001 22")
SELECT = bytes.fromhex("AAAAAA9669 0003 2002 21")
READ = bytes.fromhex("AAAAAA9669 0003 3001 32")
NO_CARD = bytes.fromhex("AAAAAA9669 0004 000080 84")


class Port:
    """The host's end: the pty's slave, opened raw as a driver would."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)

    def ask(self, frame: bytes, expect: int | None = None, timeout: float = 5.0) -> bytes:
        os.write(self.fd, frame)
        return self.read(expect, timeout)

    def read(self, expect: int | None, timeout: float = 5.0) -> bytes:
        """`expect` bytes, or (None) one whole frame by its length field."""
        data = b""
        while True:
            need = expect if expect is not None else (
                7 + int.from_bytes(data[5:7], "big") if len(data) >= 7 else 7)
            if len(data) >= need:
                return data
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                return data
            data += os.read(self.fd, 4096)

    def silent(self, frame: bytes, timeout: float = 0.3) -> bool:
        os.write(self.fd, frame)
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return not ready

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture(scope="module")
def people() -> Population:
    return Population(42, 30)


@pytest.fixture
def device(tmp_path: Path) -> Iterator[IdCardDevice]:
    sim = IdCardDevice(tmp_path / "sim" / "reader.tty")
    yield sim
    sim.close()


@pytest.fixture
def port(device: IdCardDevice) -> Iterator[Port]:
    opened = Port(device.path)
    yield opened
    opened.close()


def test_it_answers_the_published_frames(device: IdCardDevice, port: Port,
                                         people: Population) -> None:
    assert port.ask(FIND) == NO_CARD
    assert port.ask(bytes.fromhex("AAAAAA9669 0003 11FF ED")) == bytes.fromhex(
        "AAAAAA9669 0004 000090 94")
    device.place(card_for_citizen(people.citizen(0), TODAY))
    found = port.ask(FIND)
    assert found[:10] == bytes.fromhex("AAAAAA9669 0008 00009F") and len(found) == 15
    selected = port.ask(SELECT)
    assert selected[:10] == bytes.fromhex("AAAAAA9669 000C 000090") and len(selected) == 19
    answer = port.ask(READ)
    assert len(answer) == 1295 and answer[5:7] == bytes.fromhex("0508")
    assert answer[10:14] == bytes.fromhex("0100 0400")
    assert protocol.xor(answer[5:-1]) == answer[-1]
    name = answer[14:44].decode("utf-16-le").rstrip()
    assert name == people.citizen(0).name[:15]
    assert device.status()["requests"] == {"2001": 2, "11FF": 1, "2002": 1, "3001": 1}


def test_a_bad_frame_from_the_host_gets_the_modules_own_status(device: IdCardDevice,
                                                               port: Port) -> None:
    assert port.ask(bytes.fromhex("AAAAAA9669 0003 2001 23")) == protocol.response(0x10)
    assert port.ask(bytes.fromhex("AAAAAA9669 0000")) == protocol.response(0x11)
    assert port.ask(b"noise" + bytes.fromhex("AAAAAA9669 0003 7777 03")) == protocol.response(0x21)
    assert device.status()["host_errors"] == 2


def test_faults_last_their_count_then_the_reader_behaves(device: IdCardDevice, port: Port,
                                                         people: Population) -> None:
    device.place(card_for_citizen(people.citizen(1), TODAY))
    device.fault("bad-checksum", count=1)
    corrupt = port.ask(READ)
    assert len(corrupt) == 1295 and protocol.xor(corrupt[5:-1]) != corrupt[-1]
    assert protocol.xor((good := port.ask(READ))[5:-1]) == good[-1]
    device.fault("garbage", count=1, on="find")
    noise = port.ask(FIND, expect=64)
    assert len(noise) == 64 and b"\xaa" not in noise
    device.fault("mute", count=1)
    assert port.silent(READ)
    device.fault("no-card", count=1)
    assert port.ask(FIND) == NO_CARD and port.ask(FIND)[9] == 0x9F
    device.fault("read-fail")
    assert port.ask(READ) == protocol.response(0x41)
    device.fault("sam-fault", count=2)
    assert port.ask(FIND) == port.ask(SELECT) == protocol.response(0x60)
    device.clear_faults()
    assert port.ask(READ)[9] == 0x90 and device.status()["faults"] == {}
    device.fault("bad-id", count=1)
    text = port.ask(READ)[14:270]
    assert text[122:158].decode("utf-16-le") != people.citizen(1).citizen_id
    with pytest.raises(ValueError):
        device.fault("no-such-fault")


def test_unplug_removes_the_link_and_replug_brings_a_new_pty_behind_it(
    device: IdCardDevice, port: Port,
) -> None:
    link = Path(device.path)
    first = os.readlink(link)
    device.unplug()
    assert not link.exists() and not device.plugged
    with pytest.raises(OSError):  # the host's end hangs up, as a USB adapter pulled out
        port.ask(FIND)
        os.read(port.fd, 1)
    device.replug()
    assert link.is_symlink() and device.status()["plugged"]
    again = Port(device.path)
    try:
        assert again.ask(FIND) == NO_CARD
    finally:
        again.close()
    assert first and oct(link.parent.stat().st_mode & 0o777) == "0o700"


def test_without_a_link_the_pty_itself_is_the_path() -> None:
    device = IdCardDevice()
    try:
        assert device.path.startswith("/dev/pts/") and device.status()["link"] is None
        port = Port(device.path)
        try:
            assert port.ask(FIND) == NO_CARD
        finally:
            port.close()
    finally:
        device.close()


def test_validity_follows_the_law_and_expired_cards_are_a_month_past(
    people: Population,
) -> None:
    assert [term_years(a) for a in (10, 16, 25, 26, 45, 46, 80)] == [5, 10, 10, 20, 20, None,
                                                                      None]
    assert add_years(dt.date(2024, 2, 29), 10) == dt.date(2034, 2, 28)
    for index in range(30):
        citizen = people.citizen(index)
        card = card_for_citizen(citizen, TODAY)
        assert card.valid_from <= TODAY and (card.valid_until is None
                                             or card.valid_until >= TODAY)
        assert len(card.address) <= 35 and len(card.issuing_authority) <= 15
        expired = card_for_citizen(citizen, TODAY, expired=True)
        assert expired.valid_until == TODAY - dt.timedelta(days=30)
    assert "********" in repr(card) and card.citizen_id not in repr(card)
