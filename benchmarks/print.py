"""Printing a certificate: receipt over ESC/POS and A4 through CUPS, against the bare tools.

    python -m benchmarks.print [--runs N]

The certificate is the edge's own (edge_server/certificates): a 参保证明 for a synthetic
citizen, its receipt version (content.receipt) and its A4 PDF (render.render_pdf, unsigned:
printing drops the signature anyway, print-notes.md 1); where the edge's package cannot be
imported, a representative ReceiptDocument and a 1-page CJK PDF of the same size stand in
(`certificate` in the output says which).

- `print_ms`: EscPosPrinter.submit() to the last byte (the cut) at the virtual receipt printer
  (simulators/printer, real TCP), including the driver's status queries before, between and
  after the blocks. `completed_ms`: to PrintCompleted (its last status answer read).
  `baseline_print_ms`: bare python-escpos (`escpos.printer.Network`, connected beforehand)
  sending the same document (text, native QR, cut) without any status query.
- `a4_print_ms`: CupsDocumentPrinter.submit_pdf() to PrintCompleted on a cups-pdf queue of a
  private cupsd: the finished PDF exists then. `baseline_a4_ms`: `lp` to the same PDF file
  finished (ending in %%EOF) in cups-pdf's output folder, polled every 5 ms.
- `bytes`: the receipt's ESC/POS bytes; ratios are ours over the baseline (medians).

Progress goes to stderr; the last line on stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from drivers.base import DeviceEvent
from drivers.docprinter.cups import CupsDocumentPrinter
from drivers.docprinter.interface import PrintCompleted as A4Completed
from drivers.printer.escpos import EscPosPrinter
from drivers.printer.interface import PrintCompleted, ReceiptDocument, ReceiptLine
from simulators.printer.cupsd import PrivateCupsd
from simulators.printer.service import PrinterSimulator

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": round(statistics.median(ordered) * 1000, 2), "p95": round(p95 * 1000, 2)}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def certificate() -> tuple[str, ReceiptDocument, bytes]:
    """(which, receipt, pdf): the edge's certificate, or stand-ins of the same shape."""
    try:
        from edge_server.certificates.content import CertificateContent, Section
        from edge_server.certificates.receipt import receipt
        from edge_server.certificates.render import render_pdf
    except ImportError:
        return "representative", _representative_receipt(), _representative_pdf()
    content = CertificateContent(
        kind="participation", title="参保证明", code="K7QM-3XPD-9WTR-2HFC",
        issued_at="2026-12-02T10:00:00Z", issued_on="2026-12-02",
        office_name="示范市社会保险事业管理中心", office_id="110100", name="张三",
        citizen_id="11010519491231002X", gender="男", birth_date="1949-12-31",
        as_of="2026-12-02T10:00:00Z", stale=False,
        statement="兹证明 张三（公民身份号码：11010519491231002X）截至 2026年12月02日 "
                  "在本地参加社会保险的情况如下。",
        sections=[Section(heading="参保情况", columns=["险种", "参保状态", "参保起始年月"],
                          rows=[["企业职工基本养老保险", "参保缴费", "2010-03"],
                                ["失业保险", "参保缴费", "2010-03"],
                                ["工伤保险", "参保缴费", "2012-07"]])],
        verify_url="http://127.0.0.1:8200/verify/K7QM-3XPD-9WTR-2HFC",
    )
    view = receipt(content)
    document = ReceiptDocument(
        view.title, tuple(ReceiptLine(line.text, align=line.align, bold=line.bold,
                                      double_size=line.double_size) for line in view.lines),
        qr=view.qr, footer=view.footer)
    return "edge", document, render_pdf(content, CJK_FONT)


def _representative_receipt() -> ReceiptDocument:
    lines = [ReceiptLine("示范市社会保险事业管理中心", align="center", bold=True),
             ReceiptLine("验证码：K7QM-3XPD-9WTR-2HFC", align="center"), ReceiptLine("-" * 48),
             ReceiptLine("姓名：张三"), ReceiptLine("公民身份号码：110105********002X"),
             ReceiptLine("出具日期：2026-12-02"), ReceiptLine("-" * 48),
             ReceiptLine("参保情况", bold=True),
             ReceiptLine("企业职工基本养老保险 参保缴费 2010-03"),
             ReceiptLine("失业保险 参保缴费 2010-03"), ReceiptLine("工伤保险 参保缴费 2012-07"),
             ReceiptLine("-" * 48), ReceiptLine("扫描二维码或登录以下网址核验真伪：")]
    return ReceiptDocument("参保证明", tuple(lines),
                           qr="http://127.0.0.1:8200/verify/K7QM-3XPD-9WTR-2HFC",
                           footer="验证码 K7QM-3XPD-9WTR-2HFC")


def _representative_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_font("wqy", "", str(CJK_FONT))
    pdf.add_page()
    pdf.set_font("wqy", size=22)
    pdf.cell(0, 20, "参保证明", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("wqy", size=12)
    for row in ("企业职工基本养老保险 参保缴费 2010-03", "失业保险 参保缴费 2010-03"):
        pdf.cell(0, 10, row, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _bare_escpos(host: str, port: int, document: ReceiptDocument) -> Any:
    from escpos.printer import Network

    printer = Network(host, port, timeout=10)
    printer.open()
    printer.profile.profile_data["media"]["width"]["pixels"] = 576

    def send() -> None:
        printer.hw("INIT")
        printer._raw(b"\x1c\x26")
        printer.set(align="center", bold=True, double_height=True, double_width=True)
        printer._raw(document.title.encode("gb18030") + b"\n")
        for line in document.lines:
            printer.set(align=line.align, bold=line.bold, double_width=line.double_size,
                        double_height=line.double_size, normal_textsize=not line.double_size)
            printer._raw(line.text.encode("gb18030") + b"\n")
        if document.qr:
            printer.set(align="center", bold=False, normal_textsize=True)
            printer.qr(document.qr, native=True, size=6, ec=1)
        if document.footer:
            printer._raw(document.footer.encode("gb18030") + b"\n")
        printer.cut()

    return printer, send


def receipt_runs(document: ReceiptDocument, runs: int) -> dict[str, Any]:
    with PrinterSimulator(pty=False) as sim:
        device = EscPosPrinter(sim.tcp_url, poll_interval_s=60.0)  # no idle poll mid-run
        events: queue.Queue[DeviceEvent] = queue.Queue()
        device.subscribe(events.put)
        device.start()
        deadline = time.monotonic() + 10
        while device.health().code != "ok" and time.monotonic() < deadline:
            time.sleep(0.01)  # the driver's first status poll, once
        to_cut, to_done, sizes = [], [], []
        for run in range(runs + 1):  # the first run warms python-escpos and PIL up
            sim.printer.clear()
            submitted = time.time()
            job = device.submit(document)
            while not (isinstance(e := events.get(timeout=30), PrintCompleted)
                       and e.job_id == job):
                pass
            done = time.time()
            (printed,) = sim.printer.wait_jobs(1)
            if run:
                assert printed.ended_at is not None and printed.complete
                to_cut.append(printed.ended_at - submitted)
                to_done.append(done - submitted)
                sizes.append(printed.bytes)
        device.stop()
        _log(f"driver: {_ms(to_cut)} ms to the cut, {sizes[0]} bytes")

        printer, send = _bare_escpos("127.0.0.1", sim.tcp_port, document)
        baseline, baseline_sizes = [], []
        for run in range(runs + 1):
            sim.printer.clear()
            started = time.time()
            send()
            (printed,) = sim.printer.wait_jobs(1)
            if run:
                assert printed.ended_at is not None
                baseline.append(printed.ended_at - started)
                baseline_sizes.append(printed.bytes)
        printer.close()
        _log(f"bare python-escpos: {_ms(baseline)} ms, {baseline_sizes[0]} bytes")
    ours, bare = _ms(to_cut), _ms(baseline)
    return {"print_ms": ours["median"], "print_p95_ms": ours["p95"],
            "completed_ms": _ms(to_done)["median"], "bytes": sizes[0],
            "baseline_print_ms": bare["median"], "baseline_bytes": baseline_sizes[0],
            "print_ratio": round(ours["median"] / bare["median"], 2)}


def _finished(path: Path | None) -> bool:
    """cups-pdf's gs writes under the final name: the PDF is finished once it ends in %%EOF."""
    if path is None:
        return False
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - 64))
            return b"%%EOF" in f.read()
    except OSError:
        return False


def a4_runs(pdf: bytes, runs: int) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="hrss-bench-cupsd-"))
    try:
        with PrivateCupsd(base) as cupsd:
            cupsd.add_pdf_queue("PDF")
            device = CupsDocumentPrinter("PDF", server=cupsd.server, poll_interval_s=60.0,
                                         job_poll_s=0.01)
            events: queue.Queue[DeviceEvent] = queue.Queue()
            device.subscribe(events.put)
            device.start()
            deadline = time.monotonic() + 10
            while device.health().code != "ok" and time.monotonic() < deadline:
                time.sleep(0.01)
            ours: list[float] = []
            for run in range(runs + 1):
                started = time.perf_counter()
                job = device.submit_pdf(pdf, "cert")
                while not (isinstance(e := events.get(timeout=60), A4Completed)
                           and e.job_id == job):
                    pass
                elapsed = time.perf_counter() - started
                assert _finished(cupsd.output_for(e.spooler_job))  # type: ignore[attr-defined]
                if run:
                    ours.append(elapsed)
            device.stop()
            _log(f"CupsDocumentPrinter: {_ms(ours)} ms to the finished PDF")

            source = base / "cert.pdf"
            source.write_bytes(pdf)
            bare: list[float] = []
            for run in range(runs + 1):
                started = time.perf_counter()
                answer = cupsd.run("lp", "-d", "PDF", "-t", "cert", str(source)).stdout
                spooled = int(answer.split("PDF-", 1)[1].split()[0])
                limit = time.monotonic() + 60
                while not _finished(cupsd.output_for(spooled)) and time.monotonic() < limit:
                    time.sleep(0.005)  # polling the output folder is what the bare tool offers
                elapsed = time.perf_counter() - started
                if run:
                    bare.append(elapsed)
            _log(f"bare lp: {_ms(bare)} ms to the finished PDF")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    mine, theirs = _ms(ours), _ms(bare)
    return {"a4_print_ms": mine["median"], "a4_print_p95_ms": mine["p95"],
            "baseline_a4_ms": theirs["median"],
            "a4_ratio": round(mine["median"] / theirs["median"], 2)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each (receipt)")
    parser.add_argument("--a4-runs", type=int, default=8, help="measured runs of each (A4)")
    args = parser.parse_args(argv)
    args.runs, args.a4_runs = max(1, args.runs), max(1, args.a4_runs)
    which, document, pdf = certificate()
    _log(f"certificate: {which} ({len(document.lines)} receipt lines, {len(pdf)} PDF bytes)")
    summary: dict[str, Any] = {"benchmark": "print", "certificate": which,
                               "pdf_bytes": len(pdf),
                               "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    summary |= receipt_runs(document, args.runs)
    try:
        summary |= a4_runs(pdf, args.a4_runs)
    except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
        summary["a4_error"] = str(exc)[:300]
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
