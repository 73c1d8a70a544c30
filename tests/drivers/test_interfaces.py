"""The declared interfaces of the QR scanner, camera, face engine and printer: small, typed,
and careful with personal data."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.camera.interface import Camera, Frame
from drivers.face.interface import FaceBox, FaceEngine, FaceMatch, FaceTemplate
from drivers.printer.interface import (
    PrintFailed,
    PrintFailure,
    ReceiptDocument,
    ReceiptLine,
    ReceiptPrinter,
)
from drivers.qr.interface import CodeScanned, QrScanner


def test_a_scanned_code_never_shows_its_text():
    event = CodeScanned(scanner="ttyACM0", text="ESSC-TOKEN-0123456789")
    assert "ESSC" not in repr(event)
    assert "21 chars" in repr(event)


def test_frames_know_their_size_and_hide_their_pixels():
    frame = Frame(pixels=np.zeros((480, 640, 3), dtype=np.uint8), sequence=7, captured_at=1.0)
    assert (frame.width, frame.height) == (640, 480)
    assert repr(frame) == "Frame(#7, 640x480)"
    same_pixels = Frame(pixels=frame.pixels, sequence=7, captured_at=1.0)
    assert frame != same_pixels and frame == frame  # identity; comparing arrays would raise
    assert len({frame, same_pixels}) == 2


def test_face_templates_are_128_values_and_masked():
    template = FaceTemplate(tuple(float(i) for i in range(128)))
    assert "127" not in repr(template)
    with pytest.raises(ValueError, match="128"):
        FaceTemplate((0.0,))
    assert FaceMatch(distance=0.4, tolerance=0.6).same_person
    assert not FaceMatch(distance=0.7, tolerance=0.6).same_person
    assert FaceBox(top=10, right=60, bottom=70, left=20).area == 40 * 60


def test_receipts_hide_their_text():
    line = ReceiptLine("张三", bold=True)
    document = ReceiptDocument("参保证明", (line,), qr="https://x")
    assert "张三" not in repr(document)
    assert "张三" not in repr(line) and "张三" not in repr(document.lines)
    assert PrintFailed(job_id="1", failure=PrintFailure.PAPER_OUT).failure == "paper-out"


class _Minimal:
    kind = "x"

    def start(self): ...
    def stop(self): ...
    def health(self): ...
    def subscribe(self, observer): ...


def test_the_protocols_are_runtime_checkable():
    assert isinstance(_Minimal(), QrScanner)
    assert not isinstance(_Minimal(), Camera)
    assert not isinstance(_Minimal(), FaceEngine)
    assert not isinstance(_Minimal(), ReceiptPrinter)
