"""The absent implementation of every kind: keeps the kind's Protocol, reports why, fails each
operation with the kind's own error, and never publishes."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.absent import (
    AbsenceCode,
    AbsentCamera,
    AbsentCardReader,
    AbsentFaceEngine,
    AbsentPinPad,
    AbsentPrinter,
    AbsentQrScanner,
)
from drivers.camera.interface import Camera, Frame
from drivers.card.interface import CardFailure, CardReader, CardReadError
from drivers.face.interface import FaceEngine, FaceEngineUnavailable, FaceTemplate
from drivers.pinpad.interface import PinPad, PinPadUnavailable
from drivers.printer.interface import PrinterUnavailable, ReceiptDocument, ReceiptPrinter
from drivers.qr.interface import QrScanner

CASES = [
    (AbsentCardReader, CardReader), (AbsentQrScanner, QrScanner), (AbsentCamera, Camera),
    (AbsentFaceEngine, FaceEngine), (AbsentPrinter, ReceiptPrinter), (AbsentPinPad, PinPad),
]


@pytest.mark.parametrize(("absent", "protocol"), CASES)
def test_each_keeps_its_kind_protocol_and_says_why(absent: type, protocol: type) -> None:
    device = absent("some_kind", AbsenceCode.DRIVER_UNAVAILABLE, "libfoo.so missing")
    assert isinstance(device, protocol)
    health = device.health()
    assert (health.state, health.code, health.reason) == (
        "missing", "driver-unavailable", "libfoo.so missing")
    assert device.kind == "some_kind" and device.code is AbsenceCode.DRIVER_UNAVAILABLE
    events: list[object] = []
    unsubscribe = device.subscribe(events.append)
    device.start()
    device.stop()
    device.stop()  # idempotent
    unsubscribe()
    assert events == [] and device.health() == health  # nothing happens, ever


def test_the_protocols_tell_the_kinds_apart() -> None:
    qr = AbsentQrScanner("qr_scanner", AbsenceCode.NOT_CONFIGURED, "none")
    assert isinstance(qr, QrScanner)
    for protocol in (CardReader, Camera, FaceEngine, ReceiptPrinter, PinPad):
        assert not isinstance(qr, protocol)


def test_operations_fail_with_the_kinds_own_errors() -> None:
    reason = "this terminal is configured without one"
    with pytest.raises(CardReadError) as card:
        AbsentCardReader("card_reader", AbsenceCode.NOT_CONFIGURED, reason).read()
    assert card.value.failure is CardFailure.READER_UNAVAILABLE and card.value.detail == reason

    camera = AbsentCamera("camera", AbsenceCode.NOT_CONFIGURED, reason)
    assert camera.latest_frame() is None and camera.next_frame(timeout_s=60) is None  # at once

    face = AbsentFaceEngine("face", AbsenceCode.NOT_CONFIGURED, reason)
    frame = Frame(pixels=np.zeros((4, 4, 3), dtype=np.uint8), sequence=0, captured_at=0.0)
    template = FaceTemplate((0.0,) * 128)
    for call in (lambda: face.detect(frame), lambda: face.encode(frame),
                 lambda: face.compare(template, [template])):
        with pytest.raises(FaceEngineUnavailable, match=reason):
            call()

    with pytest.raises(PrinterUnavailable) as printer:
        AbsentPrinter("printer", AbsenceCode.NOT_CONFIGURED, reason).submit(ReceiptDocument("t"))
    assert printer.value.failure == "offline"

    pad = AbsentPinPad("pinpad", AbsenceCode.NOT_CONFIGURED, reason)
    with pytest.raises(PinPadUnavailable):
        pad.begin_entry()
    pad.cancel_entry()  # nothing open: nothing happens
