"""The ESC/POS receipt printer through the virtual printer's real TCP port and real pty."""

from __future__ import annotations

import io
import queue
import socket
import threading
from collections.abc import Iterator

import pytest
import zxingcpp
from PIL import Image

from drivers.base import DeviceEvent, HealthChanged, HealthState
from drivers.printer.escpos import EscPosPrinter, simulated_printer
from drivers.printer.interface import (
    REPRINT_MARK,
    PrintCompleted,
    PrinterUnavailable,
    PrintFailed,
    PrintFailure,
    ReceiptDocument,
    ReceiptLine,
    ReceiptPrinter,
)
from drivers.printer.link import FdLink, SerialLink, TcpLink, link_for
from simulators.printer.render import to_png
from simulators.printer.service import PrinterSimulator
from tests.harness.waiting import wait_for

URL = "https://verify.example.cn/v/8F3K-2Q9M"
CERTIFICATE = ReceiptDocument(
    "参保证明",
    (
        ReceiptLine("姓名：张三·李", bold=True),
        ReceiptLine("社会保障号码：110101********0011"),
        ReceiptLine("参保险种：城镇职工基本养老保险"),
        ReceiptLine("缴费金额：¥1,234.00（２０２４年）", align="right"),
        ReceiptLine("王䶮", double_size=True),  # outside GBK: printed as an image
    ),
    qr=URL,
    footer="扫码验证真伪",
)


class Events:
    def __init__(self, printer: EscPosPrinter) -> None:
        self.queue: queue.Queue[DeviceEvent] = queue.Queue()
        printer.subscribe(self.queue.put)

    def next(self, kind: type, timeout: float = 10.0, **match: object) -> DeviceEvent:
        while True:
            event = self.queue.get(timeout=timeout)
            if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                return event

    def health(self, code: str, timeout: float = 10.0) -> HealthChanged:
        while True:
            event = self.next(HealthChanged, timeout)
            if event.health.code == code:  # type: ignore[attr-defined]
                return event  # type: ignore[return-value]


@pytest.fixture(scope="module")
def sim() -> Iterator[PrinterSimulator]:
    with PrinterSimulator() as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _fresh_printer(sim: PrinterSimulator) -> Iterator[None]:
    sim.printer.set_paper("ok")
    sim.printer.set_cover(False)
    sim.printer.set_online(True)
    sim.printer.clear()
    yield
    sim.printer.set_paper("ok")
    sim.printer.set_online(True)


def started(connection: str, **options: object) -> tuple[EscPosPrinter, Events]:
    printer = EscPosPrinter(connection, poll_interval_s=0.1, **options)  # type: ignore[arg-type]
    events = Events(printer)
    printer.start()
    return printer, events


@pytest.fixture(params=["tcp", "pty", "serial"])
def printer(request, sim: PrinterSimulator) -> Iterator[tuple[EscPosPrinter, Events]]:
    assert sim.pty_path is not None
    connection = {"tcp": sim.tcp_url, "pty": sim.pty_path,
                  "serial": f"serial:{sim.pty_path}?baudrate=115200"}[request.param]
    device, events = started(connection)
    events.health("ok")
    yield device, events
    device.stop()


def test_it_keeps_the_receipt_printer_interface(sim) -> None:
    device = simulated_printer(sim.tcp_url)
    assert isinstance(device, ReceiptPrinter) and device.kind == "printer"


def test_a_certificate_prints_chinese_a_qr_code_and_a_cut(printer, sim) -> None:
    device, events = printer
    job = device.submit(CERTIFICATE)
    events.next(PrintCompleted, job_id=job)
    (printed,) = sim.printer.wait_jobs(1)
    assert printed.complete and not printed.interrupted
    text = printed.text()
    for expected in ("参保证明", "姓名：张三·李", "参保险种：城镇职工基本养老保险",
                     "缴费金额：￥1,234.00（２０２４年）", "扫码验证真伪", f"[QR] {URL}", "[cut]"):
        assert expected in text
    assert "[image 576x" in text  # 䶮 went as a raster line
    rows = [r for r in printed.rows if r.kind == "text"]
    assert rows[0].text == "参保证明" and rows[0].large and rows[0].align == 1
    assert next(r for r in rows if r.text.startswith("缴费金额")).align == 2
    png = Image.open(io.BytesIO(to_png(printed)))
    assert png.width == 576
    assert [r.text for r in zxingcpp.read_barcodes(png)] == [URL]


def test_copies_are_separate_cut_receipts(sim) -> None:
    device, events = started(sim.tcp_url)
    try:
        events.health("ok")
        job = device.submit(ReceiptDocument("回执", (ReceiptLine("一"),), copies=2))
        events.next(PrintCompleted, job_id=job)
        jobs = sim.printer.wait_jobs(2)
        assert all(j.complete and "回执" in j.text() for j in jobs)
    finally:
        device.stop()


@pytest.mark.parametrize(("change", "code", "state"), [
    (lambda p: p.set_paper("low"), "paper-low", HealthState.DEGRADED),
    (lambda p: p.set_paper("out"), "paper-out", HealthState.MISSING),
    (lambda p: p.set_cover(True), "cover-open", HealthState.MISSING),
    (lambda p: p.set_online(False), "printer-missing", HealthState.MISSING),
    (lambda p: p.set_online(False, silent=True), "printer-missing", HealthState.MISSING),
])
def test_status_read_from_the_printer_becomes_health(sim, change, code, state) -> None:
    device, events = started(sim.tcp_url, status_timeout_s=0.3)
    try:
        events.health("ok")
        change(sim.printer)
        found = events.health(code)
        assert found.health.state is state
        sim.printer.set_paper("ok")
        sim.printer.set_cover(False)
        sim.printer.set_online(True)
        events.health("ok")
    finally:
        device.stop()


def test_a_missing_printer_is_reported_and_found_again(sim) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    device, events = started(f"tcp://127.0.0.1:{port}")
    try:
        assert events.health("printer-missing").health.state is HealthState.MISSING
        with pytest.raises(PrinterUnavailable):
            device.submit(CERTIFICATE)
    finally:
        device.stop()


def test_paper_out_before_a_job_refuses_it(sim) -> None:
    device, events = started(sim.tcp_url)
    try:
        events.health("ok")
        sim.printer.set_paper("out")
        events.health("paper-out")
        with pytest.raises(PrinterUnavailable) as refused:
            device.submit(CERTIFICATE)
        assert refused.value.failure is PrintFailure.PAPER_OUT
        assert device.held_job() is None
    finally:
        device.stop()


def test_paper_out_mid_job_holds_it_and_the_reprint_is_marked(printer, sim) -> None:
    device, events = printer
    long = ReceiptDocument("参保证明", tuple(ReceiptLine(f"第{i}行") for i in range(40)), qr=URL)
    sim.printer.set_paper("out", after_lines=12)
    job = device.submit(long)
    failed = events.next(PrintFailed, job_id=job)
    assert failed.failure is PrintFailure.PAPER_OUT and failed.held  # type: ignore[attr-defined]
    held = device.held_job()
    assert held is not None and held.job_id == job
    assert device.health().code == "paper-out"
    with pytest.raises(PrinterUnavailable):
        device.submit(CERTIFICATE)  # nothing prints after a half receipt without a decision
    with pytest.raises(PrinterUnavailable):
        device.reprint(job)  # still no paper

    sim.printer.set_paper("ok")
    events.health("ok")
    with pytest.raises(PrinterUnavailable):
        device.submit(CERTIFICATE)  # still held: the kiosk asks the citizen first
    reprint = device.reprint(job)
    done = events.next(PrintCompleted, job_id=reprint)
    assert done.reprint_of == job  # type: ignore[attr-defined]
    assert device.held_job() is None
    first, second = sim.printer.wait_jobs(2)
    assert first.interrupted and not first.complete and "[QR]" not in first.text()
    assert second.complete
    lines = second.text().splitlines()
    assert lines[0] == REPRINT_MARK and lines[1] == "参保证明"
    assert any("此为重印件" in line and job in line for line in lines)
    with pytest.raises(KeyError):
        device.reprint(job)  # once only


def test_a_held_job_can_be_discarded(sim) -> None:
    device, events = started(sim.tcp_url, status_timeout_s=0.5)
    try:
        events.health("ok")
        sim.printer.set_paper("out", after_lines=3)
        job = device.submit(ReceiptDocument("t", tuple(ReceiptLine("x") for _ in range(20))))
        assert events.next(PrintFailed, job_id=job).held  # type: ignore[attr-defined]
        sim.printer.set_paper("ok")
        events.health("ok")
        device.discard(job)
        assert device.held_job() is None
        again = device.submit(CERTIFICATE)
        assert events.next(PrintCompleted, job_id=again).reprint_of is None  # type: ignore[attr-defined]
    finally:
        device.stop()


def test_reprint_on_refill_prints_the_marked_copy_by_itself(sim) -> None:
    device, events = started(sim.tcp_url, reprint_on_refill=True)
    try:
        events.health("ok")
        sim.printer.set_paper("out", after_lines=2)
        job = device.submit(ReceiptDocument("t", tuple(ReceiptLine("x") for _ in range(20))))
        events.next(PrintFailed, job_id=job)
        sim.printer.set_paper("ok")
        done = events.next(PrintCompleted)
        assert done.reprint_of == job  # type: ignore[attr-defined]
        assert sim.printer.wait_jobs(2)[1].text().startswith(REPRINT_MARK)
    finally:
        device.stop()


def test_a_silent_printer_fails_the_job_and_is_missing(sim) -> None:
    device, events = started(sim.tcp_url, job_timeout_s=2.0, status_timeout_s=0.3)
    try:
        events.health("ok")
        sim.printer.set_online(False, silent=True)
        failed = None
        try:
            job = device.submit(CERTIFICATE)
            failed = events.next(PrintFailed, job_id=job)
        except PrinterUnavailable:
            pass  # the idle poll saw it first
        if failed is not None:
            assert failed.failure is PrintFailure.OFFLINE  # type: ignore[attr-defined]
            assert not failed.held  # type: ignore[attr-defined]  # nothing went out
        wait_for(lambda: device.health().code == "printer-missing", "printer-missing")
    finally:
        device.stop()


def test_stop_is_prompt_and_nothing_is_published_after_it(sim) -> None:
    sim.printer.set_online(False, silent=True)  # every status query waits its full timeout
    device, events = started(sim.tcp_url, status_timeout_s=5.0, job_timeout_s=20.0)
    # Wait until the driver is inside a status read that will not be answered.
    wait_for(lambda: sim.printer.status()["status_queries"], "a status query")
    stopper = threading.Thread(target=device.stop)
    stopper.start()
    stopper.join(timeout=5)
    assert not stopper.is_alive()
    seen = events.queue.qsize()
    sim.printer.set_online(True)
    device.stop()
    with pytest.raises(PrinterUnavailable):
        device.submit(CERTIFICATE)
    assert events.queue.qsize() == seen


def test_a_restarted_driver_reports_health_again(sim) -> None:
    device, events = started(sim.tcp_url)
    try:
        events.health("ok")
        device.stop()
        device.start()
        events.health("ok")
    finally:
        device.stop()


@pytest.mark.parametrize(("connection", "kind"), [
    ("tcp://10.0.0.9", TcpLink), ("tcp://10.0.0.9:9101", TcpLink),
    ("serial:/dev/ttyS0?baudrate=9600", SerialLink), ("/dev/usb/lp0", FdLink),
    ("file:/dev/usb/lp1", FdLink),
])
def test_connections(connection, kind) -> None:
    assert isinstance(link_for(connection), kind)


@pytest.mark.parametrize("connection", ["lp0", "tcp://", "serial:/dev/ttyS0?baudrate=x",
                                        "serial:ttyS0"])
def test_bad_connections_fail_at_set_up(connection) -> None:
    with pytest.raises(ValueError):
        EscPosPrinter(connection)


def test_a_printer_lost_mid_job_holds_the_job_for_a_marked_reprint() -> None:
    # A printer on real TCP that answers status until the job has started, then is unplugged.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    unplugged = threading.Event()

    def printer_that_dies() -> None:
        conn, _ = listener.accept()
        with conn:
            received = b""
            while not unplugged.is_set():
                data = conn.recv(65536)
                if not data:
                    return
                received += data
                if b"\x1b@" in received:  # the job began: gone, in the middle of it
                    unplugged.set()
                    return
                for _ in range(data.count(b"\x10\x04")):
                    conn.sendall(b"\x12")

    threading.Thread(target=printer_that_dies, daemon=True).start()
    device, events = started(f"tcp://127.0.0.1:{port}", status_timeout_s=0.5)
    try:
        events.health("ok")
        job = device.submit(CERTIFICATE)
        failed = events.next(PrintFailed, job_id=job)
        assert failed.failure is PrintFailure.OFFLINE and failed.held  # type: ignore[attr-defined]
        held = device.held_job()
        assert held is not None and held.job_id == job
        wait_for(lambda: device.health().code == "printer-missing", "printer-missing")
    finally:
        device.stop()
        listener.close()
