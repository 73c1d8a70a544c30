"""The registry of peripheral kinds: which implementation of each kind a terminal runs.

A table from (kind, impl) to a lazily imported "module:factory" (Home Assistant's loader
imports an integration's platform only when it is set up): a kiosk without a camera never
imports OpenCV, and `kioskctl --help` never loads libpcsclite. Adding a driver is one line in
`IMPLEMENTATIONS`; the kiosk, its settings and its status endpoint need no change.

Building never raises. It maps set-up failures onto Home Assistant's three kinds
(house-style 5):
- `absent` chosen, or no such kind: `not-configured`, permanent, never retried;
- an implementation not built into this release, an import that fails (a missing shared
  library), a factory that raises, or one that does not keep its kind's Protocol:
  `driver-unavailable`, permanent for this process (a fixed install needs a restart);
- temporary trouble (reader unplugged, pcscd down) is not the registry's: the driver starts,
  reports it in its health and retries by itself.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from drivers.absent import (
    AbsenceCode,
    Absent,
    AbsentCamera,
    AbsentCardReader,
    AbsentDocumentPrinter,
    AbsentFaceEngine,
    AbsentIdCardReader,
    AbsentPinPad,
    AbsentPrinter,
    AbsentQrScanner,
)
from drivers.base import Device
from drivers.camera.interface import KIND as CAMERA_KIND
from drivers.camera.interface import Camera
from drivers.card.interface import CardReader
from drivers.docprinter.interface import KIND as DOCPRINTER_KIND
from drivers.docprinter.interface import DocumentPrinter
from drivers.face.interface import KIND as FACE_KIND
from drivers.face.interface import FaceEngine
from drivers.idcard.interface import KIND as IDCARD_KIND
from drivers.idcard.interface import IdCardReader
from drivers.pinpad.interface import KIND as PINPAD_KIND
from drivers.pinpad.interface import PinPad
from drivers.printer.interface import KIND as PRINTER_KIND
from drivers.printer.interface import ReceiptPrinter
from drivers.qr.interface import KIND as QR_KIND
from drivers.qr.interface import QrScanner

log = logging.getLogger(__name__)

# vpcd's readers are "Virtual PCD 00 00", "Virtual PCD 00 01", ... (simulators/card).
VIRTUAL_READER = "Virtual PCD"


class PeripheralKind(StrEnum):
    CARD = "card"
    QR = "qr"
    CAMERA = "camera"
    FACE = "face"
    PRINTER = "printer"
    PINPAD = "pinpad"
    IDCARD = "idcard"
    DOCPRINTER = "docprinter"


class Impl(StrEnum):
    REAL = "real"  # the production driver on real hardware
    SIMULATED = "simulated"  # the production driver on the simulator's device (simulators/)
    ABSENT = "absent"  # this terminal has none


@dataclass(frozen=True, kw_only=True)
class KindSpec:
    kind: PeripheralKind
    device_kind: str  # Device.kind of its drivers: the key in the kiosk's status document
    protocol: type[Any]  # the runtime-checkable Protocol every implementation keeps
    absent: type[Absent]
    title: str  # for reasons operators read


KINDS: Mapping[PeripheralKind, KindSpec] = {spec.kind: spec for spec in (
    # "card_reader" predates the registry; the fleet and its dashboards key on it.
    KindSpec(kind=PeripheralKind.CARD, device_kind="card_reader", protocol=CardReader,
             absent=AbsentCardReader, title="card reader"),
    KindSpec(kind=PeripheralKind.QR, device_kind=QR_KIND, protocol=QrScanner,
             absent=AbsentQrScanner, title="QR scanner"),
    KindSpec(kind=PeripheralKind.CAMERA, device_kind=CAMERA_KIND, protocol=Camera,
             absent=AbsentCamera, title="camera"),
    KindSpec(kind=PeripheralKind.FACE, device_kind=FACE_KIND, protocol=FaceEngine,
             absent=AbsentFaceEngine, title="face engine"),
    KindSpec(kind=PeripheralKind.PRINTER, device_kind=PRINTER_KIND, protocol=ReceiptPrinter,
             absent=AbsentPrinter, title="printer"),
    KindSpec(kind=PeripheralKind.PINPAD, device_kind=PINPAD_KIND, protocol=PinPad,
             absent=AbsentPinPad, title="PIN pad"),
    KindSpec(kind=PeripheralKind.IDCARD, device_kind=IDCARD_KIND, protocol=IdCardReader,
             absent=AbsentIdCardReader, title="resident ID card reader"),
    KindSpec(kind=PeripheralKind.DOCPRINTER, device_kind=DOCPRINTER_KIND,
             protocol=DocumentPrinter, absent=AbsentDocumentPrinter, title="document printer"),
)}

# (kind, impl) -> "module:factory". The factory is called with the kind's options as keywords
# and returns a Device that keeps the kind's Protocol. The kinds without lines here get their
# drivers with their own issues: one line each, e.g.
#     (PeripheralKind.QR, Impl.SIMULATED): "drivers.qr.serial:SerialQrScanner",
IMPLEMENTATIONS: Mapping[tuple[PeripheralKind, Impl], str] = {
    (PeripheralKind.CARD, Impl.REAL): "drivers.card.pcsc:PcscCardReader",
    (PeripheralKind.CARD, Impl.SIMULATED): "drivers.registry:simulated_card_reader",
    (PeripheralKind.IDCARD, Impl.REAL): "drivers.idcard.serial:SerialIdCardReader",
    (PeripheralKind.IDCARD, Impl.SIMULATED): "drivers.idcard.serial:simulated_idcard_reader",
    # A serial scanner, or `scanner = "camera"` (drivers/qr/scanners.py).
    (PeripheralKind.QR, Impl.REAL): "drivers.qr.scanners:qr_scanner",
    (PeripheralKind.QR, Impl.SIMULATED): "drivers.qr.scanners:simulated_qr_scanner",
    # OpenCvCamera, one per device, shared with a camera QR scanner (drivers/camera/shared.py).
    (PeripheralKind.CAMERA, Impl.REAL): "drivers.camera.shared:shared_camera",
    (PeripheralKind.CAMERA, Impl.SIMULATED): "drivers.camera.shared:simulated_shared_camera",
    # A simulated terminal runs the real engine on the simulated camera's frames.
    (PeripheralKind.FACE, Impl.REAL): "drivers.face.dlib_engine:DlibFaceEngine",
    (PeripheralKind.FACE, Impl.SIMULATED): "drivers.face.dlib_engine:DlibFaceEngine",
    (PeripheralKind.PRINTER, Impl.REAL): "drivers.printer.escpos:EscPosPrinter",
    (PeripheralKind.PRINTER, Impl.SIMULATED): "drivers.printer.escpos:simulated_printer",
    (PeripheralKind.DOCPRINTER, Impl.REAL): "drivers.docprinter.cups:CupsDocumentPrinter",
    # The same IPP client on the Stack's private cupsd (simulators/printer/cupsd.py).
    (PeripheralKind.DOCPRINTER, Impl.SIMULATED):
        "drivers.docprinter.cups:simulated_document_printer",
}


def simulated_card_reader(reader_name: str | None = None, **options: Any) -> Device:
    """The real PC/SC driver on vpcd's virtual reader, where simulators/card puts its cards.

    Nothing is faked: pyscard talks to a real pcscd; only the card is virtual.
    """
    from drivers.card.pcsc import PcscCardReader

    # vpcd's second reader is the terminal's SAM slot, where simulators/card puts its PSAM.
    options.setdefault("sam_reader", f"{VIRTUAL_READER} 00 01")
    reader: Device = PcscCardReader(reader_name=reader_name or VIRTUAL_READER, **options)
    return reader


class Registry:
    """Builds devices from a table like IMPLEMENTATIONS (tests pass their own)."""

    def __init__(
        self, implementations: Mapping[tuple[PeripheralKind, Impl], str] = IMPLEMENTATIONS,
        kinds: Mapping[PeripheralKind, KindSpec] = KINDS,
    ) -> None:
        self._implementations = dict(implementations)
        self._kinds = dict(kinds)

    def available(self, kind: PeripheralKind) -> tuple[Impl, ...]:
        """The implementations this release can build for `kind` (absent always)."""
        built = tuple(i for i in Impl if (kind, i) in self._implementations)
        return (*built, Impl.ABSENT)

    def build(self, kind: PeripheralKind | str, impl: Impl | str, **options: Any) -> Device:
        """The device for `kind` built by `impl`; ValueError only for a name that is no kind
        or impl at all (settings validate those before this is called)."""
        kind, impl = PeripheralKind(kind), Impl(impl)
        spec = self._kinds[kind]
        if impl is Impl.ABSENT:
            return spec.absent(spec.device_kind, AbsenceCode.NOT_CONFIGURED,
                               f"this terminal is configured without a {spec.title}")
        target = self._implementations.get((kind, impl))
        if target is None:
            return self._unavailable(spec, f"no {impl} {spec.title} driver in this release")
        try:
            factory = _load(target)
        except Exception as exc:  # ImportError, or OSError from a missing shared library
            return self._unavailable(spec, f"{impl} driver {target} failed to load: {exc}")
        try:
            device = factory(**options)
        except Exception as exc:  # constructors do no I/O: this is a bug or a bad option
            return self._unavailable(spec, f"{impl} driver {target} failed to set up: {exc}")
        if not isinstance(device, spec.protocol) or device.kind != spec.device_kind:
            return self._unavailable(
                spec, f"{impl} driver {target} does not keep the {spec.title} interface"
            )
        return device

    def _unavailable(self, spec: KindSpec, reason: str) -> Device:
        # Logged once here: the kiosk still starts (staff read the reason on /status) instead
        # of crash-looping on a terminal nobody can reach.
        log.error("%s: %s", spec.device_kind, reason)
        return spec.absent(spec.device_kind, AbsenceCode.DRIVER_UNAVAILABLE, reason)


def _load(target: str) -> Callable[..., Device]:
    module_name, _, attribute = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    if not callable(factory):
        raise TypeError(f"{target} is not callable")
    return factory  # type: ignore[no-any-return]


REGISTRY = Registry()
