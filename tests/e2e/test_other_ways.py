"""Every other way in and out, through the real processes: the phone's e-SSC code at the serial
scanner (a pty), the resident ID card on its reader (a pty), a generation-3 card with the PSAM
in the SAM slot (pcscd + vpcd), and a signed certificate printed on A4 through a private cupsd
and a cups-pdf queue, whose code the edge's public verify endpoint accepts."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from simulators.demo.journey import choose_cast
from simulators.stack.stack import Stack
from tests.e2e.conftest import edge_sessions
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.e2e

WITH_QR = True
WITH_IDCARD = True
WITH_PRINTERS = True
# The scanner publishes a code held in front of it once per 2 s; a replay here comes at once.
KIOSK_ENV = {"KIOSK_PERIPHERAL_OPTIONS__QR__DEBOUNCE_S": "0"}

CODE = re.compile(r"[2-9A-HJ-NP-Y]{4}(?:-[2-9A-HJ-NP-Y]{4}){3}")


@pytest.fixture(scope="module")
def citizen(stack: Stack) -> dict:
    return stack.central_client().citizen(choose_cast(stack.central_client()).pensioner)


def _screen_text(stack: Stack) -> str:
    return "".join(stack.kiosk_client().texts())


def _end(stack: Stack) -> None:
    """End a session that holds no card: the kiosk's own button, back to the attract screen."""
    kiosk = stack.kiosk_client()
    kiosk.tap("home.end")
    kiosk.wait_screen("attract", timeout=40)


def test_the_phones_code_at_the_scanner_opens_a_session_once_and_only_once(at_rest, citizen):
    stack = at_rest
    kiosk, central = stack.kiosk_client(), stack.central_client()
    kiosk.wait_screen("attract")
    wait_for(lambda: "二维码" in _screen_text(stack), "the attract screen offers the e-SSC code")
    before = len(edge_sessions(stack))
    token = central.ecard_token(citizen["citizen_id"], device_id=stack.options.device_id)

    stack.qr_client().scan(token, split=3)  # a frame in three pieces, as a slow scanner sends
    kiosk.wait_screen("home", timeout=30)
    assert kiosk.status()["session_active"] is True
    assert len(edge_sessions(stack)) == before + 1
    _end(stack)

    stack.qr_client().scan(token)  # the same code again: single use
    kiosk.wait_screen("message", timeout=30)
    assert "已经用过" in _screen_text(stack), _screen_text(stack)
    assert len(edge_sessions(stack)) == before + 1  # no second session


def test_a_forged_code_and_another_terminals_code_are_refused_in_plain_words(at_rest, citizen):
    stack = at_rest
    kiosk, central = stack.kiosk_client(), stack.central_client()
    before = len(edge_sessions(stack))

    stack.qr_client().scan(secrets.token_urlsafe(32))  # looks like a token, is not one of ours
    kiosk.wait_screen("message", timeout=30)
    forged = _screen_text(stack)
    kiosk.tap("message.ok")
    kiosk.wait_screen("attract", timeout=30)

    other = central.ecard_token(citizen["citizen_id"], device_id="T-OTHER-0099")
    stack.qr_client().scan(other)
    kiosk.wait_screen("message", timeout=30)
    elsewhere = _screen_text(stack)
    kiosk.tap("message.ok")
    kiosk.wait_screen("attract", timeout=30)

    assert forged != elsewhere  # each refusal says its own reason
    assert "不是给本机的" in elsewhere and "无法识别" in forged, (forged, elsewhere)
    assert len(edge_sessions(stack)) == before


def test_a_garbled_scan_is_refused_alone_and_the_next_code_still_works(at_rest, citizen):
    stack = at_rest
    kiosk = stack.kiosk_client()
    before = len(edge_sessions(stack))
    stack.qr_client().scan("\x07\x1bgarbled")  # line noise with a terminator: one bad frame
    kiosk.wait_screen("message", timeout=30)
    assert "没有扫清楚" in _screen_text(stack), _screen_text(stack)
    kiosk.tap("message.ok")
    kiosk.wait_screen("attract", timeout=30)

    token = stack.central_client().ecard_token(citizen["citizen_id"],
                                               device_id=stack.options.device_id)
    stack.qr_client().scan(token)
    kiosk.wait_screen("home", timeout=30)
    assert len(edge_sessions(stack)) == before + 1
    _end(stack)


def test_the_resident_id_card_identifies_a_citizen_without_a_social_security_card(at_rest,
                                                                                  citizen):
    stack = at_rest
    kiosk, idcard = stack.kiosk_client(), stack.idcard_client()
    before = len(edge_sessions(stack))
    idcard.place(citizen_index=citizen["index"])
    try:
        kiosk.wait_screen("home", timeout=30)
        assert kiosk.status()["session_active"] is True
        assert len(edge_sessions(stack)) == before + 1
        _end(stack)
    finally:
        idcard.remove()


def test_a_generation_3_card_reads_with_the_psam_in_the_sam_slot(at_rest):
    stack = at_rest
    kiosk, card = stack.kiosk_client(), stack.card()
    holder = choose_cast(stack.central_client()).gen3_holder
    card.insert_psam()
    # A terminal's PSAM is in place from boot; here, wait until pcscd has seen it go in.
    wait_for(lambda: _sam_slot_holds_a_card(stack), "pcscd to see the PSAM", timeout=30)
    try:
        card.insert(citizen_index=holder)
        kiosk.wait_screen("home", timeout=30)
        assert kiosk.status()["session_active"] is True
    finally:
        card.remove()
        card.remove(slot=1)
    kiosk.wait_screen("attract", timeout=40)


def test_a_certificate_prints_on_a4_and_its_code_is_genuine_at_the_public_endpoint(
        at_rest, citizen, tmp_path):
    stack = at_rest
    kiosk = stack.kiosk_client()
    token = stack.central_client().ecard_token(citizen["citizen_id"],
                                               device_id=stack.options.device_id)
    stack.qr_client().scan(token)
    kiosk.wait_screen("home", timeout=30)
    kiosk.tap("home.certificate")  # no card, so no card PIN: the QR session goes straight on
    kiosk.wait_screen("certificate", timeout=120)
    shown = _screen_text(stack)
    found = CODE.search(shown)
    assert found is not None and "证明已打印" in shown, shown
    code = found.group(0)

    verdict = httpx.get(f"{stack.edge.url}/verify/{code}",
                        headers={"Accept": "application/json"}, timeout=10).json()
    assert verdict["genuine"] is True and verdict["status"] == "genuine"
    assert citizen["citizen_id"] not in str(verdict)  # masked content only

    # cups-pdf wrote the page the citizen took away (ghostscript draws its text as outlines):
    # its QR code, read off the rendered page, opens the verify page of the same code.
    pdfs = stack.cupsd_base / "pdfout"
    printed = wait_for(lambda: sorted(pdfs.rglob("*.pdf")), "cups-pdf to finish the job",
                       timeout=60)
    assert _qr_on_page(printed[-1], tmp_path) == f"{stack.edge.url}/verify/{code}"
    kiosk.tap("certificate.done")
    kiosk.wait_screen("home", timeout=30)
    _end(stack)


def _sam_slot_holds_a_card(stack: Stack) -> bool:
    """Asked through the stack's own pcscd, as the kiosk's driver asks it."""
    probe = ("from smartcard.System import readers\n"
             "r = [x for x in readers() if str(x).endswith('00 01')][0]\n"
             "r.createConnection().connect()\n")
    done = subprocess.run([sys.executable, "-c", probe], check=False, env={**os.environ,
                          **stack.pcscd.client_env}, capture_output=True, timeout=30)
    return done.returncode == 0


def _qr_on_page(pdf: Path, tmp_path: Path) -> str:
    subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png", str(pdf),
                    str(tmp_path / "page")], check=True, timeout=60)
    read = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "page-1.png")],
                          capture_output=True, text=True, check=True, timeout=60)
    return read.stdout.strip()
