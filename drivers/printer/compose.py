"""A ReceiptDocument as ESC/POS bytes, block by block, composed with python-escpos.

python-escpos's text path sends Chinese as GB18030 only by accident (a regex shortcut, no
FS &) and turns full-width punctuation, '·' and CJK Ext-A/B into '?' or worse
(print-notes.md 2). So text goes out as raw GB18030 in the printer's Chinese mode (FS &,
sent once after ESC @), and a line with characters outside GBK (4-byte GB18030: 䶮, 𠮷,
which many printer fonts lack) is printed as a raster image instead. python-escpos composes
the rest: alignment and size (ESC a, ESC !), the native QR code (GS ( k) and the cut.

The result is a list of blocks, each ending at a command boundary, so the driver can ask
the printer for its status (DLE EOT) between blocks without splitting a command.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from drivers.printer.interface import REPRINT_MARK, REPRINT_NOTE, ReceiptDocument, ReceiptLine

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FS_CHINESE_ON = b"\x1c\x26"
ESC_INIT = b"\x1b\x40"
QR_SIZE = 6  # module size in dots: a 30-char URL is ~25 mm wide, easy for phone cameras
# '¥' (U+00A5) is 4 bytes in GB18030; the full-width yuan sign is the 2-byte one printers have.
_SUBSTITUTES = str.maketrans({"¥": "￥"})


def _printer(width_px: int) -> Any:
    from escpos.printer import Dummy

    printer = Dummy()
    # The default profile has no paper width: image centering is skipped and the library
    # print()s a warning to stdout (print-notes.md 2).
    printer.profile.profile_data["media"]["width"]["pixels"] = width_px
    return printer


def _take(printer: Any) -> bytes:
    data: bytes = printer.output
    printer.clear()
    return data


@functools.lru_cache(maxsize=4)
def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(str(CJK_FONT), size, layout_engine=ImageFont.Layout.BASIC)


def _line_image(text: str, width_px: int, *, align: str, large: bool, bold: bool) -> Any:
    from PIL import Image, ImageDraw

    font = _font(48 if large else 24)
    height = 56 if large else 30
    image = Image.new("1", (width_px, height), 1)
    draw = ImageDraw.Draw(image)
    text_width = draw.textlength(text, font=font)
    x = {"left": 0, "center": (width_px - text_width) / 2,
         "right": width_px - text_width}[align]
    draw.text((max(0, x), 2), text, font=font, fill=0, stroke_width=1 if bold else 0,
              stroke_fill=0)
    return image


def _line(printer: Any, line: ReceiptLine, width_px: int, full_gb18030: bool = False) -> bytes:
    text = line.text.translate(_SUBSTITUTES)
    printer.set(align=line.align, bold=line.bold, double_width=line.double_size,
                double_height=line.double_size, normal_textsize=not line.double_size)
    try:
        printer._raw(text.encode("gb18030" if full_gb18030 else "gbk") + b"\n")
    except UnicodeEncodeError:
        printer.image(_line_image(text, width_px, align=line.align, large=line.double_size,
                                  bold=line.bold))
    return _take(printer)


def compose(document: ReceiptDocument, *, width_px: int = 576, reprint_of: str | None = None,
            full_gb18030: bool = False) -> list[bytes]:
    """The document's ESC/POS blocks. `reprint_of`: mark it as the reprint of that job.
    `full_gb18030`: the printer's font has the 4-byte GB18030 characters (GB18030-2005
    certified printers): send them as text instead of images."""
    printer = _printer(width_px)
    blocks: list[bytes] = []
    for _ in range(document.copies):
        blocks.append(ESC_INIT + FS_CHINESE_ON)
        lines: list[ReceiptLine] = []
        if reprint_of is not None:
            lines.append(ReceiptLine(REPRINT_MARK, align="center", bold=True, double_size=True))
        lines.append(ReceiptLine(document.title, align="center", bold=True, double_size=True))
        lines.extend(document.lines)
        blocks.extend(_line(printer, line, width_px, full_gb18030) for line in lines)
        if document.qr is not None:
            printer.set(align="center", bold=False, normal_textsize=True)
            printer.qr(document.qr, native=True, size=QR_SIZE, ec=1)  # EC M: survives a crease
            blocks.append(_take(printer))
        if reprint_of is not None:
            note = ReceiptLine(f"{REPRINT_NOTE} ({reprint_of[:24]})", align="center")
            blocks.append(_line(printer, note, width_px))
        if document.footer:
            blocks.append(_line(printer, ReceiptLine(document.footer, align="center"), width_px))
        printer.set(align="left", bold=False, normal_textsize=True)
        printer.cut()
        blocks.append(_take(printer))
    return blocks
