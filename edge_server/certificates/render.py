"""The A4 PDF of a certificate (fpdf2): the CJK font embedded as a subset, the verification
code on the page and in the document info (`/Subject`, where /verify/pdf reads it back), the
verify URL as a vector QR code, and a drawn seal where the digital signature's stamp would be.

fpdf2 rather than reportlab: it embeds TrueType collections as CID fonts with a ToUnicode map,
so the text reads back (pdftotext, pypdf); reportlab's built-in CJK fonts are not embedded
(print-notes §3). Signing is signing.py's job, on the bytes made here.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from pathlib import Path

import segno
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import FontFace

from edge_server.certificates.content import CertificateContent

FAMILY = "cjk"
FALLBACK_FONT = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
SUBJECT_PREFIX = "hrss-certificate:"
SEAL_RED = (200, 30, 30)

log = logging.getLogger(__name__)


class _NoGlyphNames(logging.Filter):
    """fpdf2 names the characters a font lacks in its warning: from a name, that is citizen
    data in the log. We log how many instead (render_pdf)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "missing the following glyphs" not in str(record.msg)


logging.getLogger("fpdf.output").addFilter(_NoGlyphNames())


class RenderError(RuntimeError):
    """The font is missing or unreadable: no certificate can be made."""


def subject_for(code: str) -> str:
    return f"{SUBJECT_PREFIX}{code}"


def code_from_subject(subject: str | None) -> str | None:
    if subject and subject.startswith(SUBJECT_PREFIX):
        return subject[len(SUBJECT_PREFIX):][:64]
    return None


@functools.lru_cache(maxsize=4)
def _cmap(font_file: Path) -> frozenset[int]:
    with ttLib.TTFont(str(font_file), fontNumber=0, lazy=True) as font:
        return frozenset(font.getBestCmap())


def _all_text(content: CertificateContent) -> str:
    parts = [content.title, content.statement, content.name, content.office_name]
    for section in content.sections:
        parts += [section.heading, *section.columns, *(c for row in section.rows for c in row)]
    return "".join(parts)


def _missing_count(text: str, *fonts: Path) -> int:
    covered = frozenset().union(*(_cmap(f) for f in fonts))
    return sum(1 for ch in set(text) if not ch.isspace() and ord(ch) not in covered)


def _lacks_glyphs(font_file: Path, text: str, *, also: Path | None = None) -> bool:
    return _missing_count(text, font_file, *((also,) if also else ())) > 0


def render_pdf(content: CertificateContent, font_file: Path) -> bytes:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(auto=True, margin=22)
    try:
        # Face 0 of WenQuanYi Micro Hei's collection is the proportional one (1 is Mono).
        pdf.add_font(FAMILY, "", str(font_file), collection_font_number=0)
        text = _all_text(content)
        if FALLBACK_FONT.exists() and _lacks_glyphs(font_file, text):
            # For rarer characters (Ext-A names) MicroHei lacks: otherwise silently dropped.
            # Only then: loading a second CJK font costs another half second.
            pdf.add_font("fallback", "", str(FALLBACK_FONT))
            pdf.set_fallback_fonts(["fallback"])
            if _lacks_glyphs(FALLBACK_FONT, text, also=font_file):
                log.warning("%d characters of certificate %s have no glyph in either font",
                            _missing_count(text, font_file, FALLBACK_FONT), content.code)
    except (OSError, RuntimeError, ValueError, ttLib.TTLibError) as exc:
        raise RenderError(f"font {font_file}: {type(exc).__name__}") from None
    issued = dt.datetime.fromisoformat(content.issued_at)
    pdf.set_creation_date(issued)
    pdf.set_title(content.title)
    pdf.set_subject(subject_for(content.code))
    pdf.set_author(content.office_name)
    pdf.set_creator("hrss-kiosk edge server")
    pdf.set_lang("zh-CN")
    pdf.add_page()
    _header(pdf, content)
    _person(pdf, content)
    for section in content.sections:
        _section(pdf, section.heading, section.columns, section.rows)
    _footer(pdf, content)
    return bytes(pdf.output())


def _header(pdf: FPDF, content: CertificateContent) -> None:
    pdf.set_font(FAMILY, size=22)
    pdf.cell(0, 14, content.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=10)
    pdf.cell(0, 6, f"验证码：{content.code}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FAMILY, size=12)
    pdf.multi_cell(0, 7, content.statement, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _person(pdf: FPDF, content: CertificateContent) -> None:
    pdf.set_font(FAMILY, size=11)
    rows = [("姓名", content.name, "性别", content.gender),
            ("出生日期", content.birth_date, "公民身份号码", content.citizen_id)]
    with pdf.table(col_widths=(22, 48, 30, 70), text_align="LEFT", first_row_as_headings=False,
                   line_height=7) as table:
        for row in rows:
            cells = table.row()
            for text in row:
                cells.cell(text)
    pdf.ln(4)


def _section(pdf: FPDF, heading: str, columns: list[str], rows: list[list[str]]) -> None:
    pdf.set_font(FAMILY, size=13)
    pdf.cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=10)
    if not rows:
        pdf.cell(0, 7, "（无记录）", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        return
    # The first column holds the scheme's long name: twice the room of the others.
    widths = (2, *([1] * (len(columns) - 1))) if len(columns) > 3 else None
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=6,
                   headings_style=FontFace(fill_color=(235, 235, 235))) as table:
        head = table.row()
        for column in columns:
            head.cell(column)
        for row in rows:
            cells = table.row()
            for text in row:
                cells.cell(text)
    pdf.ln(3)


def _footer(pdf: FPDF, content: CertificateContent) -> None:
    # The QR, the seal and the closing lines stay together on the last page.
    if pdf.get_y() > pdf.h - 22 - 62:
        pdf.add_page()
    top = pdf.get_y() + 4
    pdf.set_font(FAMILY, size=10)
    notes = [
        f"出具机构：{content.office_name}",
        f"出具日期：{content.issued_on}",
        f"数据截至：{content.as_of}"
        + ("（中心平台暂不可达，数据来自缓存）" if content.stale else ""),
        "本证明加盖电子签章（数字签名），可用 PDF 阅读器离线验证签名，",
        "或扫描二维码、登录下列网址输入验证码核验真伪：",
        content.verify_url,
    ]
    pdf.set_xy(pdf.l_margin + 42, top)
    for line in notes:
        pdf.set_x(pdf.l_margin + 42)
        pdf.multi_cell(pdf.epw - 42 - 48, 5.5, line, align="L", new_x="LMARGIN", new_y="NEXT")
    _qr(pdf, content.verify_url, pdf.l_margin, top, 36)
    _seal(pdf, content.office_name, pdf.w - pdf.r_margin - 22, top + 20, 20)


def _qr(pdf: FPDF, data: str, x: float, y: float, size: float) -> None:
    # Vectors, not an image: sharp at any printer resolution, and a few hundred bytes.
    qr = segno.make(data, error="m", micro=False)
    matrix = list(qr.matrix_iter(scale=1, border=2))
    cell = size / len(matrix)
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                pdf.rect(x + c * cell, y + r * cell, cell, cell, style="F")


def _seal(pdf: FPDF, office: str, cx: float, cy: float, radius: float) -> None:
    pdf.set_draw_color(*SEAL_RED)
    pdf.set_text_color(*SEAL_RED)
    pdf.set_line_width(1.2)
    pdf.circle(x=cx, y=cy, radius=radius, style="D")
    pdf.set_font(FAMILY, size=16)
    pdf.set_xy(cx - radius, cy - 9)
    pdf.cell(2 * radius, 8, "★", align="C")
    pdf.set_font(FAMILY, size=7 if len(office) > 12 else 9)
    pdf.set_xy(cx - radius + 2, cy)
    pdf.multi_cell(2 * radius - 4, 3.5, office, align="C")
    pdf.set_font(FAMILY, size=8)
    pdf.set_xy(cx - radius, cy + 10)
    pdf.cell(2 * radius, 4, "电子印章", align="C")
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
