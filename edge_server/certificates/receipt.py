"""The receipt version of a certificate, for terminals with only a receipt printer: the same
content as the PDF (content.py), the ID number masked (a slip is easily left behind), the
verify URL as its QR code. Lines are wrapped to 48 columns (80 mm; a Chinese character takes
two), so every one fits drivers.printer.interface.ReceiptLine's 96 characters."""

from __future__ import annotations

import unicodedata

from edge_server.certificates.content import CertificateContent
from edge_server.certificates.schemas import ReceiptDocumentView, ReceiptLineView

COLUMNS = 48
MAX_LINES = 200


def _width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _text_width(text: str) -> int:
    return sum(_width(ch) for ch in text)


def _hard_wrap(text: str, columns: int) -> list[str]:
    out: list[str] = []
    line, used = "", 0
    for ch in text:
        w = _width(ch)
        if used + w > columns:
            out.append(line)
            line, used = "", 0
        line += ch
        used += w
    if line or not out:
        out.append(line)
    return out


def wrap(text: str, columns: int = COLUMNS) -> list[str]:
    """At spaces where it can (an amount stays whole), inside a word only when it must."""
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if _text_width(candidate) <= columns:
            line = candidate
            continue
        if line:
            out.append(line)
        pieces = _hard_wrap(word, columns)
        out.extend(pieces[:-1])
        line = pieces[-1]
    out.append(line)
    return out


def _plain(text: str) -> str:
    # The printer would take control characters as commands; nothing of ours has any, but
    # central's text passes through here.
    return "".join(ch for ch in text if ch >= " " and ch != "\x7f")


def row_text(columns: list[str], row: list[str]) -> str:
    """A table row on one slip line. The A4 table has column headings; a slip has none, so
    each amount carries its column's name (个人缴费(元) and 单位缴费(元) would read alike)."""
    cells = []
    for i, value in enumerate(row):
        column = columns[i] if i < len(columns) else ""
        amount = column.endswith("(元)")
        cells.append(f"{column.removesuffix('(元)')}{value}元" if amount else value)
    return " ".join(cells)


def receipt(content: CertificateContent) -> ReceiptDocumentView:
    lines: list[ReceiptLineView] = []

    def add(text: str, *, align: str = "left", bold: bool = False) -> None:
        for part in wrap(_plain(text)):
            lines.append(ReceiptLineView(text=part, align=align, bold=bold))  # type: ignore[arg-type]

    add(content.office_name, align="center", bold=True)
    add(f"验证码：{content.code}", align="center")
    add("-" * COLUMNS)
    add(f"姓名：{content.name}")
    add(f"公民身份号码：{content.citizen_id_masked}")
    add(f"出具日期：{content.issued_on}")
    for section in content.sections:
        add("-" * COLUMNS)
        add(section.heading, bold=True)
        if not section.rows:
            add("（无记录）")
        for row in section.rows:
            add(row_text(section.columns, row))
    add("-" * COLUMNS)
    if content.stale:
        add("中心平台暂不可达，数据来自缓存，截至 " + content.as_of)
    add("扫描二维码或登录以下网址核验真伪：")
    add(content.verify_url)
    if len(lines) > MAX_LINES:
        # A long record is cut, never refused: the A4 version and the verify page hold it all.
        lines = [*lines[:MAX_LINES - 1], ReceiptLineView(text="（余下内容见A4版或核验页面）")]
    return ReceiptDocumentView(
        title=content.title, lines=lines,
        qr=content.verify_url if 0 < len(content.verify_url) <= 512 else None,
        footer=f"验证码 {content.code}",
    )
