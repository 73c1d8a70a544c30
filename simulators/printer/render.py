"""A printed job as text (a transcript) and as a PNG of the paper (576 dots wide, WQY font)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.files import write_atomically

if TYPE_CHECKING:
    from simulators.printer.device import Job, Row

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
LINE_PX = 30
LARGE_PX = 56
MARGIN_PX = 8


def transcript(job: Job) -> str:
    lines: list[str] = []
    for row in job.rows:
        if row.kind == "text":
            lines.append(row.text)
        elif row.kind == "qr":
            lines.append(f"[QR] {row.text}")
        elif row.kind == "image":
            lines.append(f"[image {row.width * 8}x{row.height}]")
        else:
            lines.append("")
    if job.interrupted:
        lines.append("[interrupted]")
    if job.cut:
        lines.append("[cut]")
    return "\n".join(lines)


@functools.lru_cache(maxsize=4)
def _font(size: int) -> Any:
    from PIL import ImageFont

    # Basic layout: CJK needs no shaping, and raqm fails on some garbage a client may send.
    return ImageFont.truetype(str(CJK_FONT), size, layout_engine=ImageFont.Layout.BASIC)


def _row_image(row: Row, width_px: int) -> Any:
    from PIL import Image, ImageDraw

    if row.kind == "qr":
        import segno

        # Drawn from the symbol's matrix, module size as the printer's GS ( k 1 C set it.
        matrix = segno.make(row.text, error="m", micro=False).matrix
        scale, border = max(1, row.qr_size), 4
        side = (len(matrix) + 2 * border) * scale
        image = Image.new("L", (side, side), 255)
        draw = ImageDraw.Draw(image)
        for y, modules in enumerate(matrix):
            for x, dark in enumerate(modules):
                if dark:
                    left, top = (x + border) * scale, (y + border) * scale
                    draw.rectangle((left, top, left + scale - 1, top + scale - 1), fill=0)
        return _place(image, width_px, row.align)
    if row.kind == "image":
        raster = Image.frombytes("1", (row.width * 8, row.height), row.image)
        # ESC/POS raster: 1 = black dot; PIL mode "1": 1 = white.
        from PIL import ImageOps

        image = ImageOps.invert(raster.convert("L"))
        return _place(image, width_px, row.align)
    height = LARGE_PX if row.large else LINE_PX
    image = Image.new("L", (width_px, height), 255)
    if row.kind == "text" and row.text:
        font = _font(48 if row.large else 24)
        draw = ImageDraw.Draw(image)
        text_width = draw.textlength(row.text, font=font)
        x = [MARGIN_PX, (width_px - text_width) / 2, width_px - text_width - MARGIN_PX][
            min(row.align, 2)]
        draw.text((max(0, x), 2), row.text, font=font, fill=0,
                  stroke_width=1 if row.bold else 0, stroke_fill=0)
    return image


def _place(image: Any, width_px: int, align: int) -> Any:
    from PIL import Image

    if image.width > width_px:
        image = image.crop((0, 0, width_px, image.height))
    paper = Image.new("L", (width_px, image.height), 255)
    x = [0, (width_px - image.width) // 2, width_px - image.width][min(align, 2)]
    paper.paste(image, (x, 0))
    return paper


def to_png(job: Job, width_px: int = 576) -> bytes:
    import io

    from PIL import Image

    rows = [_row_image(row, width_px) for row in job.rows] or [
        Image.new("L", (width_px, LINE_PX), 255)]
    paper = Image.new("L", (width_px, sum(r.height for r in rows) + 2 * MARGIN_PX), 255)
    y = MARGIN_PX
    for row in rows:
        paper.paste(row, (0, y))
        y += row.height
    out = io.BytesIO()
    paper.save(out, format="PNG")
    return out.getvalue()


def save(job: Job, out_dir: Path, width_px: int = 576) -> tuple[Path, Path]:
    text_path, png_path = out_dir / f"job-{job.id}.txt", out_dir / f"job-{job.id}.png"
    write_atomically(text_path, transcript(job), mode=0o644)
    write_atomically(png_path, to_png(job, width_px), mode=0o644)
    return text_path, png_path
