"""The private cupsd: its own folder and port, the machine's CUPS files untouched, and
`kioskctl sim printer cupsd` as a supervised process the production driver prints to."""

from __future__ import annotations

import hashlib
import queue
import shutil
from pathlib import Path

import pytest

from drivers.base import DeviceEvent
from drivers.docprinter.cups import CupsDocumentPrinter
from drivers.docprinter.interface import PrintCompleted
from simulators.printer import cupsd as cupsd_module
from simulators.printer.cupsd import CupsdError, PrivateCupsd
from simulators.stack.supervisor import ProcessFailed
from tests.harness.cups import cjk_pdf, pdf_pages
from tests.harness.stack import fail_on_missing, supervised
from tests.harness.waiting import wait_for

STOCK_CONF = Path("/etc/cups/cups-pdf.conf")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def test_a_base_folder_lp_cannot_reach_is_refused_with_the_reason(tmp_path: Path) -> None:
    # pytest's /tmp/pytest-of-root is 0700: CUPS's filters (user lp) could not run there.
    with pytest.raises(CupsdError, match="not searchable"):
        PrivateCupsd(tmp_path / "cupsd").start()


def test_the_supervised_cupsd_prints_and_leaves_the_machine_alone(tmp_path: Path) -> None:
    before = _digest(STOCK_CONF)
    service = cupsd_module.stack_spec()
    with supervised(tmp_path / "logs") as sup:
        try:
            sup.start(service.spec)
        except ProcessFailed as exc:
            fail_on_missing(exc)
        printer = CupsDocumentPrinter(service.pdf_queue, server=service.server,
                                      poll_interval_s=0.2)
        events: queue.Queue[DeviceEvent] = queue.Queue()
        printer.subscribe(events.put)
        printer.start()
        try:
            wait_for(lambda: printer.health().code == "ok", "the queue to be ok")
            job = printer.submit_pdf(cjk_pdf(2), "参保证明")
            while not (isinstance(e := events.get(timeout=60), PrintCompleted)
                       and e.job_id == job):
                pass
        finally:
            printer.stop()
        log = (tmp_path / "logs" / "cupsd.log").read_text()
        folder = Path(log.split("printed PDFs in ", 1)[1].split(" and ", 1)[0])
        (printed,) = folder.rglob(f"*job_{e.spooler_job}*.pdf")
        assert pdf_pages(printed) == 2
    assert _digest(STOCK_CONF) == before  # the bind mount lived in cupsd's namespace only
    assert not Path("/root/PDF").exists()
    assert not folder.exists()  # its temporary folder went with it


def test_stop_removes_the_base_it_made_and_keeps_one_it_was_given() -> None:
    own = PrivateCupsd()
    assert own.owns_base and own.base.name.startswith("hrss-cupsd-")
    given_base = cupsd_module.new_base()
    given = PrivateCupsd(given_base)
    try:
        for scheduler in (own, given):
            scheduler.start()
            scheduler.add_pdf_queue()
        assert (own.base / "etc" / "cupsd.conf").exists()
    finally:
        own.stop()
        given.stop()
    assert not own.base.exists()  # spool, logs and printed PDFs with it
    assert (given_base / "etc" / "cupsd.conf").exists() and not given.owns_base
    own.stop()  # twice: nothing left to do, no error
    asked = PrivateCupsd(given_base, owns_base=True)  # a base made for this run: removed too
    asked.stop()  # never started: stop() still tidies up
    assert not given_base.exists()


def test_the_supervised_cupsd_removes_the_stacks_folder_when_asked(tmp_path: Path) -> None:
    base = cupsd_module.new_base()
    service = cupsd_module.stack_spec(base=base, remove_base=True)
    try:
        with supervised(tmp_path / "logs") as sup:
            try:
                sup.start(service.spec)
            except ProcessFailed as exc:
                fail_on_missing(exc)
            assert (base / "etc" / "cupsd.conf").exists()
        assert not base.exists()  # the process removed it as it stopped
    finally:
        shutil.rmtree(base, ignore_errors=True)
