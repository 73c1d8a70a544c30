"""A receipt as ESC/POS blocks: GB18030 in Chinese mode, images for what GBK lacks, the cut."""

from __future__ import annotations

from drivers.absent import AbsenceCode, AbsentPrinter
from drivers.printer.compose import ESC_INIT, FS_CHINESE_ON, compose
from drivers.printer.escpos import EscPosPrinter, Paper, PrinterStatus
from drivers.printer.interface import (
    REPRINT_MARK,
    PrintFailure,
    ReceiptDocument,
    ReceiptLine,
    ReceiptPrinter,
)
from drivers.registry import REGISTRY, Impl, PeripheralKind


def test_a_receipt_starts_in_chinese_mode_and_ends_with_a_cut() -> None:
    blocks = compose(ReceiptDocument("参保证明", (ReceiptLine("张三·李"),)))
    assert blocks[0] == ESC_INIT + FS_CHINESE_ON
    data = b"".join(blocks)
    assert "参保证明".encode("gb18030") in data
    assert "张三·李".encode("gb18030") in data  # '·' is A1A4, not CP437's 0xFA
    assert data.endswith(b"\x1dV\x00")


def test_the_yuan_sign_goes_full_width_and_ext_b_as_an_image() -> None:
    data = b"".join(compose(ReceiptDocument("t", (ReceiptLine("¥5"), ReceiptLine("𠮷")))))
    assert "￥5".encode("gb18030") in data and b"\x81\x30\x84\x36" not in data
    assert "𠮷".encode("gb18030") not in data and b"\x1dv0" in data


def test_a_printer_with_a_full_gb18030_font_gets_four_byte_text() -> None:
    data = b"".join(compose(ReceiptDocument("t", (ReceiptLine("王𠮷"),)), full_gb18030=True))
    assert "王𠮷".encode("gb18030") in data and b"\x1dv0" not in data


def test_a_reprint_is_marked_at_the_top_and_names_the_original() -> None:
    data = b"".join(compose(ReceiptDocument("参保证明"), reprint_of="r1-7"))
    mark = REPRINT_MARK.encode("gb18030")
    assert data.index(mark) < data.index("参保证明".encode("gb18030"))
    assert "此为重印件 (r1-7)".encode("gb18030") in data


def test_status_bits_decode_as_epson_documents_them() -> None:
    ok = PrinterStatus.decode(0x12, 0x12, 0x12)
    assert ok == PrinterStatus(online=True, cover_open=False, paper=Paper.OK, error=False)
    assert ok.stops_printing() is None
    assert PrinterStatus.decode(0x12, 0x12, 0x1E).paper is Paper.LOW
    out = PrinterStatus.decode(0x1A, 0x32, 0x7E)
    assert out.paper is Paper.OUT and out.stops_printing() is PrintFailure.PAPER_OUT
    cover = PrinterStatus.decode(0x1A, 0x16, 0x12)
    assert cover.stops_printing() is PrintFailure.COVER_OPEN


def test_registry_lines_build_the_escpos_driver() -> None:
    for impl in (Impl.REAL, Impl.SIMULATED):
        device = REGISTRY.build(PeripheralKind.PRINTER, impl, connection="tcp://127.0.0.1:9")
        assert isinstance(device, EscPosPrinter) and isinstance(device, ReceiptPrinter)
    absent = AbsentPrinter("printer", AbsenceCode.NOT_CONFIGURED, "none")
    assert isinstance(absent, ReceiptPrinter) and absent.held_job() is None
