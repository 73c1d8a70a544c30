"""The gallery's walk through issue 8's screens (`python -m tests.kiosk.gallery OUT --walk
ways`): the attract screen offering the e-SSC QR code and the ID card, bad tokens explained, a
QR session printing the participation certificate (progress, done with its QR code, paper out
held and reprinted marked), the gen-3 card without PSAM offering the other ways, the loss
report taking the ID number from the ID card, and the card PIN keypad (tries left, locked,
changed; the PIN before a certificate).

Device events go in through the fake card reader's hub, which the app's bridge hands to the
flow on the UI thread like any peripheral's.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from drivers.base import DeviceEvent
from drivers.card.interface import CardFailure
from drivers.idcard.interface import IdCardData, IdCardRead
from drivers.qr.interface import CodeScanned
from kiosk.edge import errors as codes
from kiosk.edge.errors import EdgeProblem
from kiosk.flow.print_kit import Printed, PrintOutcome
from tests.kiosk.device_fakes import (
    PDF,
    FakePinPort,
    FakePrinters,
    available,
    sample_certificate,
)
from tests.kiosk.fakes import sample_card, sample_opened
from tests.kiosk.gallery import Journey

TOKEN = "eSSC_gallery-0123456789abcdef"
CARD_PIN = "135790"


class GatedPrinters(FakePrinters):
    """Prints wait while the gate is closed, to see the progress screen."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()

    def _next(self, what: str, document: Any) -> PrintOutcome:
        self.gate.wait(30)
        return super()._next(what, document)


PRINTERS = GatedPrinters()
PINS = FakePinPort(pin=CARD_PIN)


def ways_ports() -> dict[str, Any]:
    return {"printers": PRINTERS, "pins": PINS}


def id_card() -> IdCardData:
    return IdCardData(name="张三", gender="1", ethnicity="01", birth_date=dt.date(1949, 12, 31),
                      address="北京市西城区某某街1号", citizen_id="11010519491231002X",
                      issuing_authority="北京市公安局西城分局", valid_from=dt.date(2016, 1, 1),
                      valid_until=None)


class WaysWalk(Journey):
    def publish(self, event: DeviceEvent) -> None:
        self.reader._hub.publish(event)  # the bridge takes it to the UI thread

    def pin(self, digits: str) -> None:
        for char in digits:
            self.tap(f"pin.key-{char}")

    def run(self) -> None:
        r, e, printers = self.reader, self.edge, PRINTERS
        certificate = sample_certificate()
        e.issue_certificate = lambda *_a, **_k: certificate  # type: ignore[attr-defined]
        e.certificate_pdf = lambda *_a, **_k: PDF  # type: ignore[attr-defined]
        self.publish(available("qr_scanner"))
        self.publish(available("idcard_reader"))
        self.shot("01-attract-ways", "attract")

        e.open_script[:] = [EdgeProblem(codes.QR_TOKEN_USED, 409)]
        self.publish(CodeScanned(scanner="qr0", payload=TOKEN.encode()))
        self.shot("02-message-qr-used", "message")
        self.tap("message.ok")
        self.wait("attract")
        e.open_script[:] = [EdgeProblem(codes.QR_TOKEN_OTHER_TERMINAL, 403)]
        self.publish(CodeScanned(scanner="qr0", payload=(TOKEN + "2").encode()))
        self.shot("03-message-qr-other-terminal", "message")
        self.tap("message.ok")
        self.wait("attract")

        e.open_script[:] = [sample_opened()]
        e.gate.clear()
        self.publish(CodeScanned(scanner="qr0", payload=(TOKEN + "3").encode()))
        self.shot("03b-identifying-qr", "identifying")
        e.gate.set()
        self.shot("04-home-qr", "home")
        printers.gate.clear()
        self.tap("home.certificate")
        self.shot("05-printing", "printing")
        printers.gate.set()
        self.shot("06-certificate-done", "certificate")
        self.tap("certificate.done")
        self.wait("home")

        printers.outcomes[:] = [PrintOutcome(Printed.PAPER_OUT, "job-9", held=True)]
        self.tap("home.certificate")
        self.shot("07-certificate-held", "certificate")
        self.tap("certificate.reprint")
        self.shot("08-certificate-reprinted", "certificate")
        self.tap("certificate.end")
        self.wait("attract")

        r.insert_failing(CardFailure.NEEDS_PSAM)
        self.shot("09-message-needs-psam-ways", "message")
        r.remove()
        self.wait("attract")

        self.tap("attract.card-loss")
        self.shot("10-keypad-id-number-or-idcard", "keypad")
        self.publish(IdCardRead(reader="id0", data=id_card()))
        self.shot("11-keypad-pin-after-idcard", "keypad")
        self.tap("keypad.back")
        self.tap("keypad.back")
        self.wait("attract")

        r.insert(sample_card())
        self.shot("12-home-card", "home")
        self.tap("home.pin-change")
        self.wait("pin")
        self.pin("0000")
        self.shot("13-pin-old", "pin")
        self.pin("00")
        self.tap("pin.next")
        self.pin("802461")
        self.tap("pin.next")
        self.pin("802461")
        self.tap("pin.next")
        self.shot("14-pin-wrong", "pin")
        PINS.tries = 1  # (two more wrong tries, without typing them all here)
        self.pin("000000")
        self.tap("pin.next")
        self.pin("802461")
        self.tap("pin.next")
        self.pin("802461")
        self.tap("pin.next")
        self.shot("15-pin-locked", "pin")
        self.tap("pin.done")
        self.wait("home")

        PINS.tries = 3
        self.tap("home.certificate")
        self.wait("pin")
        self.pin(CARD_PIN)
        self.shot("16-pin-before-certificate", "pin")
        self.tap("pin.next")
        self.shot("17-certificate-after-pin", "certificate")
        self.tap("certificate.end")
        self.wait("ending")
        r.remove()
        self.wait("attract")
