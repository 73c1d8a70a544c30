"""The one "absent" implementation of every peripheral kind.

A terminal built without a peripheral, or whose driver cannot load, still gets an object that
keeps the kind's Protocol: it starts and stops, publishes nothing, reports `missing` with a
reason, and every operation fails with the kind's own "unavailable" error. The kiosk never
special-cases a missing device, and the status endpoint (and the fleet) can tell "not there by
design" from "broken".

The two codes map Home Assistant's setup failures (house-style 5): `not-configured` is
ConfigEntryError (permanent, never retried), `driver-unavailable` is a failed import or set-up
(permanent for this process: a fixed install needs a restart). Temporary trouble (a reader
unplugged, pcscd down) is not absence: the real driver reports it and retries by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from drivers.base import EventHub, Health, HealthState, Observer, Unsubscribe
from drivers.camera.interface import Frame
from drivers.card.interface import CardData, CardFailure, CardReadError
from drivers.docprinter.interface import DocPrintFailure, DocumentPrinterUnavailable
from drivers.face.interface import (
    DEFAULT_TOLERANCE,
    FaceBox,
    FaceEngineUnavailable,
    FaceMatch,
    FaceTemplate,
)
from drivers.pinpad.interface import PinPadHealthCode, PinPadUnavailable
from drivers.printer.interface import (
    HeldJob,
    PrinterUnavailable,
    PrintFailure,
    ReceiptDocument,
)


class AbsenceCode(StrEnum):
    NOT_CONFIGURED = "not-configured"
    DRIVER_UNAVAILABLE = "driver-unavailable"


class Absent:
    """Lifecycle and health shared by every absent kind; `kind` is the Device.kind it stands for."""

    def __init__(self, kind: str, code: AbsenceCode, reason: str) -> None:
        self.kind = kind
        self._health = Health(HealthState.MISSING, code=str(code), reason=reason)
        self._hub = EventHub()  # nothing is ever published; subscribing still works

    @property
    def code(self) -> AbsenceCode:
        return AbsenceCode(self._health.code)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def health(self) -> Health:
        return self._health

    def subscribe(self, observer: Observer) -> Unsubscribe:
        return self._hub.subscribe(observer)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind}, {self._health.code})"


class AbsentCardReader(Absent):
    def read(self) -> CardData:
        raise CardReadError(CardFailure.READER_UNAVAILABLE, self._health.reason)


class AbsentQrScanner(Absent):
    pass  # a scanner only publishes; an absent one never does


class AbsentCamera(Absent):
    def latest_frame(self) -> Frame | None:
        return None

    def next_frame(self, after: int | None = None, timeout_s: float = 1.0) -> Frame | None:
        return None  # at once: waiting for a frame that can never come would only stall


class AbsentFaceEngine(Absent):
    def detect(self, frame: Frame) -> list[FaceBox]:
        raise FaceEngineUnavailable(self._health.reason)

    def encode(self, frame: Frame, box: FaceBox | None = None) -> FaceTemplate:
        raise FaceEngineUnavailable(self._health.reason)

    def compare(
        self, known: FaceTemplate, candidates: Sequence[FaceTemplate],
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> list[FaceMatch]:
        raise FaceEngineUnavailable(self._health.reason)


class AbsentPrinter(Absent):
    def submit(self, document: ReceiptDocument) -> str:
        raise PrinterUnavailable(PrintFailure.OFFLINE, self._health.reason)

    def held_job(self) -> HeldJob | None:
        return None

    def reprint(self, job_id: str) -> str:
        raise KeyError(job_id)

    def discard(self, job_id: str) -> None:
        pass


class AbsentDocumentPrinter(Absent):
    def submit_pdf(self, pdf: bytes, title: str) -> str:
        raise DocumentPrinterUnavailable(DocPrintFailure.OFFLINE, self._health.reason)


class AbsentIdCardReader(Absent):
    def rejections(self) -> dict[str, int]:
        return {}  # an ID card reader only publishes; an absent one never does


class AbsentPinPad(Absent):
    def begin_entry(
        self, *, min_digits: int = 6, max_digits: int = 6, timeout_s: float = 30.0
    ) -> str:
        raise PinPadUnavailable(PinPadHealthCode.PINPAD_MISSING, self._health.reason)

    def cancel_entry(self) -> None:
        pass
