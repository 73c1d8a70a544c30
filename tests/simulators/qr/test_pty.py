"""The pty scanner simulator on its own: raw bytes as written, unplug and replug."""

from __future__ import annotations

import contextlib
import os
import select

import pytest

from simulators.qr.pty import PtyScanner, Unplugged


def read_all(fd: int, size: int) -> bytes:
    out = b""
    while len(out) < size:
        ready, _, _ = select.select([fd], [], [], 5)
        assert ready, f"only {len(out)} of {size} bytes"
        out += os.read(fd, size - len(out))
    return out


def test_a_scan_arrives_at_the_link_byte_for_byte(tmp_path):
    with PtyScanner(tmp_path / "qr") as scanner:
        assert os.path.islink(scanner.path)
        fd = os.open(scanner.path, os.O_RDONLY | os.O_NOCTTY)
        try:
            written = scanner.scan("TOKEN-1", terminator="CRLF", prefix=b"\x02", suffix=b"\x03",
                                   split=3)
            assert read_all(fd, written) == b"\x02TOKEN-1\x03\r\n"
            noise = scanner.noise(200)
            data = read_all(fd, noise)
            assert b"\r" not in data and b"\n" not in data
        finally:
            os.close(fd)


def test_noise_is_seeded(tmp_path):
    a, b = PtyScanner(tmp_path / "a", seed=3), PtyScanner(tmp_path / "b", seed=3)
    assert a._noise(64) == b._noise(64)


def test_unplug_removes_the_link_and_replug_brings_a_new_pty(tmp_path):
    with PtyScanner(tmp_path / "qr") as scanner:
        first = scanner.slave_name
        fd = os.open(scanner.path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        scanner.unplug()
        assert not os.path.lexists(scanner.path)
        assert scanner.status()["plugged"] is False
        with pytest.raises(Unplugged):
            scanner.scan("x")
        # The old side is gone: end of file or EIO, as with a pulled USB device.
        with contextlib.suppress(OSError):
            assert os.read(fd, 10) == b""
        os.close(fd)
        scanner.replug()
        assert os.path.islink(scanner.path) and scanner.status()["plugged"] is True
        assert scanner.slave_name  # may reuse the number; the link is what drivers open
        assert first


def test_writes_are_bounded(tmp_path):
    with PtyScanner(tmp_path / "qr") as scanner, pytest.raises(ValueError):
        scanner.write_raw(b"x" * (64 * 1024 + 1))


def test_the_simulator_and_the_simulated_driver_agree_on_the_link(monkeypatch):
    from drivers.qr import serial as driver
    from simulators.qr import pty

    assert pty.DEFAULT_LINK == driver.DEFAULT_SIM_PORT
    assert pty.TERMINATORS == driver.TERMINATORS
    monkeypatch.setenv(pty.LINK_ENV, "/tmp/elsewhere")
    assert pty.sim_port() == driver.sim_port() == "/tmp/elsewhere"
