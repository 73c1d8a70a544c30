"""The document printer's kind: registry, absent implementation, IPP messages, health rules."""

from __future__ import annotations

import struct

import pytest

from drivers.absent import AbsenceCode, AbsentDocumentPrinter
from drivers.base import HealthState
from drivers.docprinter import ipp
from drivers.docprinter.cups import CupsDocumentPrinter, health_from
from drivers.docprinter.interface import (
    DocPrinterHealthCode,
    DocPrintFailure,
    DocumentPrinter,
    DocumentPrinterUnavailable,
)
from drivers.registry import REGISTRY, Impl, PeripheralKind
from kiosk.settings import PeripheralSettings


def test_the_kind_is_registered_absent_by_default() -> None:
    assert PeripheralSettings().docprinter is Impl.ABSENT
    assert REGISTRY.available(PeripheralKind.DOCPRINTER) == (Impl.REAL, Impl.SIMULATED,
                                                             Impl.ABSENT)
    absent = REGISTRY.build(PeripheralKind.DOCPRINTER, Impl.ABSENT)
    assert isinstance(absent, AbsentDocumentPrinter) and isinstance(absent, DocumentPrinter)
    assert absent.kind == "document_printer" and absent.code is AbsenceCode.NOT_CONFIGURED
    with pytest.raises(DocumentPrinterUnavailable) as refused:
        absent.submit_pdf(b"%PDF-1.4", "t")
    assert refused.value.failure is DocPrintFailure.OFFLINE


@pytest.mark.parametrize("impl", [Impl.REAL, Impl.SIMULATED])
def test_real_and_simulated_build_the_ipp_driver(impl: Impl) -> None:
    device = REGISTRY.build(PeripheralKind.DOCPRINTER, impl, server="127.0.0.1:1", queue="A4")
    assert isinstance(device, CupsDocumentPrinter)


def test_an_ipp_request_is_encoded_as_rfc_8010_says() -> None:
    body = ipp.encode(ipp.GET_JOB_ATTRIBUTES, 7, [(ipp.INTEGER, "job-id", 42),
                                                  (ipp.KEYWORD, "requested-attributes",
                                                   ["job-state", "job-state-reasons"])])
    assert body[:8] == bytes([1, 1, 0, 9, 0, 0, 0, 7])
    assert body[8] == ipp.OPERATION_ATTRIBUTES and body[-1] == ipp.END_OF_ATTRIBUTES
    assert b"attributes-charset" in body and b"\x00\x04\x00\x00\x00\x2a" in body
    # the second keyword is an additional value: a name of length 0
    assert b"\x44\x00\x00\x00\x11job-state-reasons" in body


def _answer(*attributes: bytes, status: int = 0) -> bytes:
    return struct.pack(">BBHI", 1, 1, status, 1) + bytes([ipp.JOB_ATTRIBUTES]) + b"".join(
        attributes) + bytes([ipp.END_OF_ATTRIBUTES])


def _attr(tag: int, name: str, raw: bytes) -> bytes:
    return struct.pack(">BH", tag, len(name)) + name.encode() + struct.pack(">H", len(raw)) + raw


def test_an_answer_is_decoded_with_additional_values() -> None:
    answer = ipp.decode(_answer(
        _attr(ipp.ENUM, "job-state", struct.pack(">i", 9)),
        _attr(ipp.KEYWORD, "job-state-reasons", b"job-completed-successfully"),
        _attr(ipp.KEYWORD, "", b"media-empty-error"),
    ))
    job = answer.first(ipp.JOB_ATTRIBUTES)
    assert job["job-state"] == [9]
    assert job["job-state-reasons"] == ["job-completed-successfully", "media-empty-error"]


@pytest.mark.parametrize("data", [
    b"", b"\x01\x01\x00\x00", _answer()[:-1],  # no end tag
    struct.pack(">BBHI", 1, 1, 0, 1) + b"\x44\x00\x03abc\x00\x01x",  # value outside a group
    struct.pack(">BBHI", 1, 1, 0, 1) + b"\x02\x44\x00\x03abc\xff\xffx\x03",  # value past end
])
def test_malformed_answers_are_errors_not_crashes(data: bytes) -> None:
    with pytest.raises(ipp.IppError):
        ipp.decode(data)


@pytest.mark.parametrize(("attributes", "state", "code"), [
    ({"printer-state": [3], "printer-state-reasons": ["none"]}, HealthState.OK, "ok"),
    ({"printer-state": [4], "printer-state-reasons": ["media-empty-error"]},
     HealthState.MISSING, "paper-out"),
    ({"printer-state": [5], "printer-state-reasons": ["media-empty-error", "paused"]},
     HealthState.MISSING, "paper-out"),
    ({"printer-state": [5], "printer-state-reasons": ["paused"]}, HealthState.MISSING,
     "offline"),
    ({"printer-state": [3], "printer-state-reasons": ["offline-report"]}, HealthState.MISSING,
     "offline"),
    ({"printer-state": [3], "printer-state-reasons": ["media-jam-error"]}, HealthState.MISSING,
     "printer-error"),
    ({"printer-state": [3], "printer-state-reasons": ["toner-low-warning"]},
     HealthState.DEGRADED, "toner-low"),
    ({"printer-state": [3], "printer-state-reasons": ["marker-supply-low-report"]},
     HealthState.DEGRADED, "toner-low"),
    ({"printer-state": [3], "printer-state-reasons": ["media-low-warning"]},
     HealthState.DEGRADED, "paper-low"),
    ({"printer-state": [3], "printer-is-accepting-jobs": [False]}, HealthState.MISSING,
     "offline"),
])
def test_printer_state_reasons_become_health(attributes, state, code) -> None:
    found_state, found_code, _ = health_from(attributes)
    assert (found_state, found_code) == (state, DocPrinterHealthCode(code))


@pytest.mark.parametrize("queue", ["", "a b", "x/y", "q" * 128])
def test_bad_queue_names_fail_at_set_up(queue: str) -> None:
    with pytest.raises(ValueError):
        CupsDocumentPrinter(queue)


class OneAnswerServer:
    """A loopback TCP server that reads one request and sends `answer` (then closes), or
    nothing at all: a stand-in for a broken or hostile cupsd."""

    def __init__(self, answer: bytes | None) -> None:
        import socket
        import threading

        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            if self.answer is not None:
                conn.sendall(self.answer)
            else:
                self.done.wait(5)

    def close(self) -> None:
        self.done.set()
        self.listener.close()


def _ok_ipp() -> bytes:
    return _answer(_attr(ipp.ENUM, "job-state", struct.pack(">i", 9)))


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(_ok_ipp()) + _ok_ipp(),
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"%x\r\n" % len(_ok_ipp()) + _ok_ipp() + b"\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + _ok_ipp(),
])
def test_the_http_answer_is_read_in_each_framing(answer: bytes) -> None:
    from common.clock import Deadline

    server = OneAnswerServer(answer)
    try:
        client = ipp.IppClient(f"127.0.0.1:{server.port}", "A4")
        job = client.job_attributes(1, Deadline(5))
        assert job["job-state"] == [9]
    finally:
        server.close()


@pytest.mark.parametrize("answer", [
    None,  # silent: the deadline ends it
    b"garbage\r\n\r\n",
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nX: " + b"y" * 20000 + b"\r\n\r\n",
])
def test_a_broken_or_hostile_answer_is_an_ipp_error(answer: bytes | None) -> None:
    from common.clock import Deadline

    server = OneAnswerServer(answer)
    try:
        client = ipp.IppClient(f"127.0.0.1:{server.port}", "A4")
        with pytest.raises(ipp.IppError):
            client.printer_attributes(Deadline(0.5))
    finally:
        server.close()
