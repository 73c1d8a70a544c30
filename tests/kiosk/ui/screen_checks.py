"""Checks on one rendered screen: its layout (GET /automation/layout) and its screenshot.

- every text fits its widget, and every text and button lies inside the window and inside
  each widget that holds it (nothing is clipped or pushed off screen);
- no two texts' boxes overlap;
- every tappable widget is at least 60 dp a side in the elder theme, 44 dp in the normal one;
- every text's contrast, measured on the PNG, is at least 4.5:1 (WCAG AA).

Each failure is one line naming the widget and the numbers; the gallery records them per step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.harness.contrast import measure, open_rgb

MIN_TARGET_DP = {"elder": 60.0, "normal": 44.0}
MIN_CONTRAST = 4.5
SLACK_PX = 1.5  # sub-pixel layout rounding


def name_of(widget: dict[str, Any]) -> str:
    what = widget.get("target") or repr(_short(widget.get("text", "")))
    return f"{widget['kind']} {what}"


def _short(text: str, limit: int = 24) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _texts(layout: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in layout["widgets"]
            if w.get("text", "").strip() and not w.get("decoration")]


def _inside(inner: list[float], outer: list[float]) -> bool:
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return (x >= ox - SLACK_PX and y >= oy - SLACK_PX
            and x + w <= ox + ow + SLACK_PX and y + h <= oy + oh + SLACK_PX)


def _fmt(box: list[float]) -> str:
    x, y, w, h = box
    return f"({x:.0f},{y:.0f} {w:.0f}x{h:.0f})"


def check_layout(layout: dict[str, Any], theme: str) -> list[str]:
    failures: list[str] = []
    width, height = layout["window"]
    window = [0.0, 0.0, float(width), float(height)]
    texts = _texts(layout)
    for w in layout["widgets"]:
        if not (w in texts or w["tappable"]):
            continue
        box = w["box"]
        tw, th = w.get("texture", (0, 0))
        if w in texts and (tw > box[2] + SLACK_PX or th > box[3] + SLACK_PX):
            failures.append(f"{name_of(w)}: text {tw:.0f}x{th:.0f} px overflows its "
                            f"{box[2]:.0f}x{box[3]:.0f} px widget")
        if w in texts and w.get("broken"):
            word, word_w = w["broken"]
            failures.append(f"{name_of(w)}: '{_short(word)}' ({word_w:.0f} px) is wider than "
                            f"its {box[2]:.0f} px line: broken mid-word")
        if not _inside(box, window):
            failures.append(f"{name_of(w)}: {_fmt(box)} is outside the {width}x{height} window")
        elif w.get("outside") is not None:
            kind, outer = w["outside"]
            failures.append(f"{name_of(w)}: {_fmt(box)} sticks out of its {kind} "
                            f"{_fmt(outer)}")
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            overlap_w = min(a["box"][0] + a["box"][2], b["box"][0] + b["box"][2]) \
                - max(a["box"][0], b["box"][0])
            overlap_h = min(a["box"][1] + a["box"][3], b["box"][1] + b["box"][3]) \
                - max(a["box"][1], b["box"][1])
            if overlap_w > SLACK_PX and overlap_h > SLACK_PX:
                failures.append(f"{name_of(a)} {_fmt(a['box'])} overlaps {name_of(b)} "
                                f"{_fmt(b['box'])} by {overlap_w:.0f}x{overlap_h:.0f} px")
    least = MIN_TARGET_DP[theme]
    for w in layout["widgets"]:
        if w["tappable"]:
            bw, bh = w["box_dp"][2], w["box_dp"][3]
            if bw < least or bh < least:
                failures.append(f"{name_of(w)}: {bw:.0f}x{bh:.0f} dp, smaller than "
                                f"{least:.0f} dp a side ({theme} theme)")
    return failures


def check_contrast(png: Path, layout: dict[str, Any]) -> list[str]:
    image = open_rgb(png)
    failures: list[str] = []
    for w in _texts(layout):
        measured = measure(image, tuple(w["box"]))  # type: ignore[arg-type]
        if measured is not None and measured.ratio < MIN_CONTRAST:
            failures.append(f"{name_of(w)}: contrast {measured.ratio:.2f}:1 "
                            f"({measured.foreground} on {measured.background}), "
                            f"below {MIN_CONTRAST}:1")
    return failures


def check_screen(png: Path, layout: dict[str, Any], theme: str) -> list[str]:
    return check_layout(layout, theme) + check_contrast(png, layout)
