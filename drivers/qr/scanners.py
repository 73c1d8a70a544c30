"""The QR kind's drivers in the registry (drivers/registry.py): a serial scanner or the camera.

    [peripherals]
    qr = "real"                       # or "simulated": the simulators' pty, or their camera
    [peripheral_options.qr]
    scanner = "camera"                # default "serial"
    backend = "zxing"                 # or "pyzbar"; camera only
    source = "/dev/video0"            # camera only; default the terminal's camera

Which scanner is an option of the one kind, not a kind of its own: a terminal has one way to
read the e-SSC code, and the kiosk, its status document and the fleet know it as the QR
scanner either way. The other options go to the chosen driver, which refuses those it does not
take (the kind is then `driver-unavailable` with the reason). A camera scanner built here
decodes on demand (drivers/qr/camera.py): the kiosk's screen that asks for the code holds the
demand; its `source` defaults to the camera kind's (kiosk/peripherals/build.py passes the
kiosk's `camera_source`), so both lease the one driver of that device.
"""

from __future__ import annotations

from typing import Any

from drivers.base import Device

SCANNERS = ("serial", "camera")


def _check(scanner: str) -> None:
    if scanner not in SCANNERS:
        raise ValueError(f"scanner is one of {', '.join(SCANNERS)}, not {scanner[:32]!r}")


def qr_scanner(scanner: str = "serial", **options: Any) -> Device:
    """(QR, real): a serial scanner on its port, or the camera at `source` (default 0)."""
    _check(scanner)
    if scanner == "camera":
        from drivers.qr.camera import CameraQrScanner

        options.setdefault("on_demand", True)
        return CameraQrScanner(**options)
    from drivers.qr.serial import SerialQrScanner

    return SerialQrScanner(**options)


def simulated_qr_scanner(scanner: str = "serial", **options: Any) -> Device:
    """(QR, simulated): the pty of `kioskctl sim qr serve`, or the camera simulator's stream."""
    _check(scanner)
    if scanner == "camera":
        from drivers.qr.camera import simulated_camera_scanner

        options.setdefault("on_demand", True)
        return simulated_camera_scanner(**options)
    from drivers.qr.serial import simulated_scanner

    return simulated_scanner(**options)
