"""The registry builds the serial scanner for (QR, REAL) and (QR, SIMULATED)."""

from drivers.qr.serial import DEFAULT_SIM_PORT, SerialQrScanner
from drivers.registry import REGISTRY, PeripheralKind


def test_real_and_simulated_are_the_serial_driver(monkeypatch):
    monkeypatch.delenv("HRSS_SIM_QR_LINK", raising=False)
    real = REGISTRY.build(PeripheralKind.QR, "real", port="/dev/ttyUSB3", baudrate=115200,
                          terminator="CRLF")
    assert isinstance(real, SerialQrScanner) and real.port == "/dev/ttyUSB3"
    simulated = REGISTRY.build(PeripheralKind.QR, "simulated")
    assert isinstance(simulated, SerialQrScanner) and simulated.port == DEFAULT_SIM_PORT


def test_a_bad_option_is_driver_unavailable_not_a_crash():
    device = REGISTRY.build(PeripheralKind.QR, "real", terminator="ETX")
    assert device.health().code == "driver-unavailable"
