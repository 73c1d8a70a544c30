"""Printing certificates through the real kiosk process: the virtual ESC/POS receipt printer
running out of paper mid-job (held, refilled by staff, reprinted marked 【重印】, never an
unmarked second copy), the A4 cups-pdf queue stopped (the citizen is told, offered the receipt
version or to come back, and CUPS is left with no job to print later unseen), and the personal
rights record on A4 with a QR code on paper and on screen that phones can read."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.demo.journey import choose_cast
from simulators.printer.cupsd import CUPS_PDF_PPD
from simulators.stack.stack import Stack
from tests.harness.cups import pdf_pages
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

WITH_QR = True
WITH_PRINTERS = True
KIOSK_ENV = {"KIOSK_PERIPHERAL_OPTIONS__QR__DEBOUNCE_S": "0"}

CODE = re.compile(r"[2-9A-HJ-NP-Y]{4}(?:-[2-9A-HJ-NP-Y]{4}){3}")
MARK = "【重印】"


@pytest.fixture(scope="module")
def citizen(stack: Stack) -> dict:
    return stack.central_client().citizen(choose_cast(stack.central_client()).pensioner)


def _text(stack: Stack) -> str:
    return "".join(stack.kiosk_client().texts())


def _lp(stack: Stack, tool: str, *args: str) -> str:
    """A CUPS tool against the stack's private cupsd."""
    done = subprocess.run([tool, "-h", stack.cupsd.server, *args], capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0 or tool == "lpstat", done.stderr
    return done.stdout.strip()


def _health(stack: Stack, kind: str) -> str:
    return str(stack.kiosk_client().status()["peripherals"][kind]["code"])


def _wait_health(stack: Stack, kind: str, code: str) -> None:
    wait_for(lambda: _health(stack, kind) == code, f"the kiosk to report {kind} {code}",
             timeout=30)


def _signed_in(stack: Stack, citizen: dict) -> None:
    """A session by the phone's code (no card, so no card PIN before printing)."""
    kiosk = stack.kiosk_client()
    kiosk.wait_screen("attract", timeout=40)
    token = stack.central_client().ecard_token(citizen["citizen_id"],
                                               device_id=stack.options.device_id)
    stack.qr_client().scan(token)
    kiosk.wait_screen("home", timeout=30)


def _end(stack: Stack) -> None:
    kiosk = stack.kiosk_client()
    kiosk.wait_screen("home", timeout=30)
    kiosk.tap("home.end")
    kiosk.wait_screen("attract", timeout=40)


def _new_jobs(stack: Stack, before: int) -> list[dict[str, Any]]:
    return stack.printer_client().jobs()[before:]


@pytest.fixture
def receipt_only(at_rest: Stack) -> Iterator[Stack]:
    """The A4 queue gone from CUPS: the kiosk prints the receipt version."""
    stack = at_rest
    _lp(stack, "lpadmin", "-x", stack.cupsd.pdf_queue)
    try:
        _wait_health(stack, "document_printer", "printer-missing")
        yield stack
    finally:
        stack.printer_client().paper("ok")
        _lp(stack, "lpadmin", "-p", stack.cupsd.pdf_queue, "-E", "-v", "cups-pdf:/", "-m",
            CUPS_PDF_PPD, "-o", "media-default=A4", "-o", "printer-is-shared=false")
        _wait_health(stack, "document_printer", "ok")


@pytest.fixture
def a4_stopped(at_rest: Stack) -> Iterator[Stack]:
    """The A4 queue disabled (cupsdisable: stopped, still accepting jobs)."""
    stack = at_rest
    _lp(stack, "cupsdisable", stack.cupsd.pdf_queue)
    try:
        _wait_health(stack, "document_printer", "offline")
        yield stack
    finally:
        _lp(stack, "cupsenable", stack.cupsd.pdf_queue)
        _wait_health(stack, "document_printer", "ok")


def test_paper_out_mid_receipt_then_the_refill_prints_it_once_marked(receipt_only, citizen):
    stack = receipt_only
    kiosk, printer = stack.kiosk_client(), stack.printer_client()
    before = len(printer.jobs())
    printer.paper("out", after_lines=4)  # the roll ends four lines into the job
    _signed_in(stack, citizen)
    kiosk.tap("home.rights_record")
    kiosk.wait_screen("certificate", timeout=120)
    shown = _text(stack)
    assert "纸用完了" in shown and "工作人员加纸" in shown, shown  # in plain words
    code = CODE.search(shown)
    assert code is not None, shown
    _wait_health(stack, "printer", "paper-out")  # and reported as the printer's health

    printer.paper("ok")  # staff refill
    _wait_health(stack, "printer", "ok")
    kiosk.tap("certificate.reprint")
    wait_for(lambda: "证明已打印" in _text(stack), "the reprint to finish", timeout=60)

    jobs = _new_jobs(stack, before)
    complete = [job for job in jobs if job["complete"]]
    assert len(jobs) == 2 and jobs[0]["interrupted"] and not jobs[0]["complete"]
    # The certificate came out whole exactly once, as the marked reprint; no unmarked copy.
    (whole,) = [job for job in complete if code.group(0) in job["text"]]
    assert whole["text"].startswith(MARK), whole["text"][:80]
    assert all(job["text"].startswith(MARK) for job in complete)
    assert "个人权益记录" in whole["text"] and "缴费记录" in whole["text"]
    assert any(code.group(0) in qr for qr in whole["qr"])  # its QR code: the verify page
    kiosk.tap("certificate.done")
    _end(stack)


def test_a_stopped_a4_queue_is_told_and_offers_the_receipt_version_or_coming_back(
        a4_stopped, citizen):
    stack = a4_stopped
    kiosk, printer = stack.kiosk_client(), stack.printer_client()
    pdfs = stack.cupsd_base / "pdfout"
    printed_before = set(pdfs.rglob("*.pdf"))

    # Coming back later: nothing prints, and CUPS holds no job to print when nobody is there.
    _signed_in(stack, citizen)
    kiosk.tap("home.certificate")
    kiosk.wait_screen("certificate", timeout=120)
    shown = _text(stack)
    assert "打印机暂时不能使用" in shown and "小票版" in shown, shown
    assert _lp(stack, "lpstat", "-o", stack.cupsd.pdf_queue) == ""
    kiosk.tap("certificate.done")  # "以后再来打印"
    kiosk.wait_screen("home", timeout=30)

    # The receipt version instead: the same certificate on the receipt printer.
    before = len(printer.jobs())
    kiosk.tap("home.certificate")
    kiosk.wait_screen("certificate", timeout=120)
    code = CODE.search(_text(stack))
    assert code is not None
    kiosk.tap("certificate.receipt")
    wait_for(lambda: "证明已打印" in _text(stack), "the receipt version to print", timeout=60)
    (job,) = _new_jobs(stack, before)
    assert job["complete"] and code.group(0) in job["text"] and "参保证明" in job["text"]
    assert not job["text"].startswith(MARK)  # a first print, not a reprint
    assert _lp(stack, "lpstat", "-o", stack.cupsd.pdf_queue) == ""
    assert set(pdfs.rglob("*.pdf")) == printed_before
    kiosk.tap("certificate.done")
    _end(stack)


def test_the_rights_record_prints_on_a4_with_codes_a_phone_can_read(at_rest, citizen,
                                                                     tmp_path):
    stack = at_rest
    kiosk = stack.kiosk_client()
    _wait_health(stack, "document_printer", "ok")
    pdfs = stack.cupsd_base / "pdfout"
    printed_before = set(pdfs.rglob("*.pdf"))
    _signed_in(stack, citizen)
    kiosk.tap("home.rights_record")
    kiosk.wait_screen("certificate", timeout=120)
    shown = _text(stack)
    found = CODE.search(shown)
    assert found is not None and "证明已打印" in shown, shown
    code = found.group(0)

    verdict = httpx.get(f"{stack.edge.url}/verify/{code}",
                        headers={"Accept": "application/json"}, timeout=10).json()
    assert verdict["genuine"] is True and verdict["status"] == "genuine"
    assert "个人权益记录" in str(verdict) and citizen["citizen_id"] not in str(verdict)

    # The pages cups-pdf printed: the QR code opens the verify page of the same code.
    printed = wait_for(lambda: sorted(set(pdfs.rglob("*.pdf")) - printed_before),
                       "cups-pdf to finish the job", timeout=60)
    assert len(printed) == 1
    assert _qr(_page(printed[0], tmp_path)) == f"{stack.edge.url}/verify/{code}"

    # The QR code on the screen fetches the signed PDF for the citizen's phone.
    phone_url = _qr(kiosk.screenshot("rights-record-printed"))
    assert phone_url.startswith(stack.edge.url), phone_url
    pdf = httpx.get(phone_url, timeout=20)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    kiosk.tap("certificate.done")
    _end(stack)


def _page(pdf: Path, tmp_path: Path) -> Path:
    """The last page as an image: the QR code stays with the seal on the last page, and a
    rights record with two years of payments takes two."""
    last = str(pdf_pages(pdf))
    subprocess.run(["pdftoppm", "-r", "150", "-f", last, "-l", last, "-png", "-singlefile",
                    str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    return tmp_path / "page.png"


def _qr(image: Path) -> str:
    read = subprocess.run(["zbarimg", "-q", "--raw", str(image)], capture_output=True,
                          text=True, check=True, timeout=60)
    return read.stdout.strip()
