"""Peripherals from the kiosk's settings, through the registry of kinds."""

from __future__ import annotations

from typing import Any

from drivers.registry import REGISTRY, Impl, PeripheralKind, Registry
from kiosk.peripherals.running import Peripheral, Peripherals
from kiosk.settings import KioskSettings


def _options(kind: PeripheralKind, impl: Impl, settings: KioskSettings) -> dict[str, Any]:
    """The keywords each kind's driver takes: its `[peripheral_options.<kind>]`, over the older
    dedicated settings (the card's reader, the camera's source)."""
    options: dict[str, Any] = {}
    if kind is PeripheralKind.CARD and settings.card_reader is not None:
        options["reader_name"] = settings.card_reader
    qr_camera = settings.peripheral_options.get("qr", {}).get("scanner") == "camera"
    # A camera QR scanner reads the terminal's camera (drivers/qr/scanners.py) unless told.
    if (kind is PeripheralKind.CAMERA or (kind is PeripheralKind.QR and qr_camera)) and (
            settings.camera_source is not None):
        source = settings.camera_source
        # "0" is the V4L2 index OpenCV wants as an int; anything else is a path or a URL.
        options["source"] = int(source) if source.isdigit() else source
    return {**options, **settings.peripheral_options.get(str(kind), {})}


def build_peripherals(settings: KioskSettings, registry: Registry = REGISTRY) -> Peripherals:
    chosen = settings.peripherals
    return Peripherals(
        [
            Peripheral(kind, chosen.impl(kind),
                       registry.build(kind, chosen.impl(kind),
                                      **_options(kind, chosen.impl(kind), settings)))
            for kind in PeripheralKind
        ],
        stop_timeout_s=settings.peripheral_stop_timeout_s,
    )
