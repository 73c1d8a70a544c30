"""The gallery's screen checks on made-up layouts and pictures: each finds what it is for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from kiosk.ui.theme import ELDER, contrast_ratio
from tests.harness.contrast import measure
from tests.kiosk.ui.screen_checks import check_contrast, check_layout


def widget(kind: str = "Text", box: tuple[float, ...] = (0, 0, 100, 50), text: str = "字",
           texture: tuple[float, float] | None = None, tappable: bool = False,
           target: str = "", outside: Any = None) -> dict[str, Any]:
    return {"kind": kind, "box": list(box), "box_dp": list(box), "text": text,
            "texture": list(texture or box[2:]), "tappable": tappable, "target": target,
            "outside": outside, "decoration": False}


def layout(*widgets: dict[str, Any]) -> dict[str, Any]:
    return {"screen": "home", "window": [1080, 1920], "dp": 1.0, "widgets": list(widgets)}


def test_a_tidy_screen_passes() -> None:
    tidy = layout(widget(box=(0, 0, 500, 50)), widget(box=(0, 60, 500, 50)),
                  widget("KioskButton", (0, 200, 400, 120), "好", tappable=True, target="a.b"))
    assert check_layout(tidy, "elder") == []


def test_overflowing_clipped_and_overlapping_text_is_named_with_numbers() -> None:
    failures = check_layout(layout(
        widget(box=(10, 10, 200, 84), text="缴费基数（元）", texture=(200, 92)),
        widget(box=(10, 1900, 300, 40), text="off screen"),
        widget(box=(10, 500, 300, 40), text="clipped", outside=["BoxLayout", [0, 520, 1080, 900]]),
        widget(box=(500, 10, 300, 60), text="left"),
        widget(box=(700, 40, 300, 60), text="right"),
    ), "normal")
    assert failures == [
        "Text '缴费基数（元）': text 200x92 px overflows its 200x84 px widget",
        "Text 'off screen': (10,1900 300x40) is outside the 1080x1920 window",
        "Text 'clipped': (10,500 300x40) sticks out of its BoxLayout (0,520 1080x900)",
        "Text 'left' (500,10 300x60) overlaps Text 'right' (700,40 300x60) by 100x30 px",
    ]


def test_a_word_wider_than_its_line_is_named() -> None:
    amount = widget(box=(0, 0, 90, 80), text="¥86,543.21", texture=(90, 80))
    amount["broken"] = ["¥86,543.21", 121.4]
    assert check_layout(layout(amount), "normal") == [
        "Text '¥86,543.21': '¥86,543.21' (121 px) is wider than its 90 px line: broken mid-word"
    ]


def test_touch_targets_are_measured_against_the_theme() -> None:
    key = widget("KioskButton", (0, 0, 120, 50), "1", tappable=True, target="keypad.key-1")
    assert check_layout(layout(key), "normal") == []
    assert check_layout(layout(key), "elder") == [
        "KioskButton keypad.key-1: 120x50 dp, smaller than 60 dp a side (elder theme)"]


def picture(tmp_path: Path, text_colour: str, background: str) -> Path:
    image = Image.new("RGB", (400, 200), background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 60, 160), fill=text_colour)  # a glyph's stroke
    draw.rectangle((90, 90, 200, 110), fill=text_colour)
    path = tmp_path / "shot.png"
    image.save(path)
    return path


def test_contrast_is_read_off_the_picture(tmp_path: Path) -> None:
    p = ELDER.palette
    png = picture(tmp_path, p.text_muted, p.background)
    with Image.open(png) as image:
        measured = measure(image.convert("RGB"), (0, 0, 400, 200))
    assert measured is not None
    assert (measured.foreground, measured.background) == (p.text_muted, p.background)
    assert measured.ratio == round(contrast_ratio(p.text_muted, p.background), 2)
    assert check_contrast(png, layout(widget(box=(0, 0, 400, 200)))) == []


def test_low_contrast_and_invisible_text_fail(tmp_path: Path) -> None:
    grey = picture(tmp_path, "#A0A0A0", "#FFFFFF")
    assert check_contrast(grey, layout(widget(box=(0, 0, 400, 200), text="灰"))) == [
        "Text '灰': contrast 2.61:1 (#A0A0A0 on #FFFFFF), below 4.5:1"]
    blank = picture(tmp_path, "#FFFFFF", "#FFFFFF")  # text in its background's colour
    assert check_contrast(blank, layout(widget(box=(0, 0, 400, 200), text="白"))) == [
        "Text '白': contrast 1.00:1 (#FFFFFF on #FFFFFF), below 4.5:1"]
