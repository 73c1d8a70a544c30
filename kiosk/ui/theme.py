"""Sizes and colours of the normal and elder themes; plain data, checkable without a window.

Elder mode follows MIIT's 适老化 guidance and WCAG: main text well above 18 dp, touch targets
far above 60x60 dp, and every text/background pair at 7:1 or better (AAA), which also helps
in bright halls. Colours are a calm paper background with one deep blue for actions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Palette:
    background: str = "#F5F2EA"  # warm paper: softer than white under hall lighting
    surface: str = "#FFFFFF"
    text: str = "#1B2430"
    text_muted: str = "#47505C"
    divider: str = "#D8D2C4"
    header_bg: str = "#123F63"
    header_text: str = "#FFFFFF"
    primary_bg: str = "#145283"
    primary_pressed: str = "#0C3556"
    primary_text: str = "#FFFFFF"
    secondary_bg: str = "#FFFFFF"
    secondary_pressed: str = "#E3ECF5"
    secondary_text: str = "#123F63"
    disabled_bg: str = "#E4E1DA"
    disabled_text: str = "#5B6068"
    info_bg: str = "#E2EDF7"
    info_text: str = "#0C3556"
    warning_bg: str = "#FCEFC7"
    warning_text: str = "#4D3600"
    problem_mark: str = "#A34A00"  # the round mark on a message screen, amber rather than alarm red
    wait_mark: str = "#145283"
    info_mark: str = "#1F6E43"
    scrim: str = "#0B1520"  # behind the idle warning, drawn at 60 % opacity
    card_body: str = "#DCEBF7"  # the drawn social security card on the attract screen
    card_chip: str = "#C9A227"


@dataclass(frozen=True)
class Theme:
    name: str
    # Text sizes, dp.
    display: float  # the one thing to read on a screen ("请插入社会保障卡")
    title: float
    heading: float
    body: float
    small: float  # footers, secondary notes; still above 18 dp
    # Touch targets and spacing, dp.
    button_height: float
    button_font: float
    big_button_height: float  # the main service on the home screen
    row_height: float  # one payment row
    padding: float
    spacing: float
    radius: float
    header_height: float
    footer_height: float
    page_size: int  # payment rows per page: paging beats scrolling for elderly users
    # Rows per page in a landscape window: half the height, the table beside its title.
    landscape_page_size: int
    palette: Palette = Palette()

    @property
    def text_sizes(self) -> dict[str, float]:
        return {
            "display": self.display, "title": self.title, "heading": self.heading,
            "body": self.body, "small": self.small, "button": self.button_font,
        }


NORMAL = Theme(
    name="normal", display=52, title=42, heading=32, body=28, small=22,
    button_height=96, button_font=32, big_button_height=170, row_height=68,
    padding=40, spacing=22, radius=14, header_height=120, footer_height=72, page_size=9,
    landscape_page_size=6,
)

ELDER = Theme(
    name="elder", display=66, title=52, heading=40, body=34, small=26,
    button_height=120, button_font=40, big_button_height=210, row_height=84,
    padding=44, spacing=26, radius=18, header_height=140, footer_height=84, page_size=6,
    landscape_page_size=4,
)

THEMES = {t.name: t for t in (NORMAL, ELDER)}


def theme_named(name: str) -> Theme:
    return THEMES.get(name, ELDER)


def rows_per_page(theme: Theme, landscape: bool) -> int:
    return theme.landscape_page_size if landscape else theme.page_size


def page_sizes(window_width: int, window_height: int) -> dict[str, int]:
    """Rows per page by theme name for a window of this size (the flow pages by these)."""
    landscape = window_width > window_height
    return {name: rows_per_page(theme, landscape) for name, theme in THEMES.items()}


def rgba(hex_colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """'#RRGGBB' -> Kivy's (r, g, b, a) in 0..1."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return (r, g, b, alpha)


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2.x contrast ratio of two opaque colours (1..21)."""

    def luminance(hex_colour: str) -> float:
        def channel(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b, _ = rgba(hex_colour)
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    hi, lo = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_pairs(palette: Palette) -> dict[str, tuple[str, str]]:
    """Every text-on-background combination the screens use."""
    p = palette
    return {
        "text/background": (p.text, p.background),
        "text/surface": (p.text, p.surface),
        "muted/background": (p.text_muted, p.background),
        "muted/surface": (p.text_muted, p.surface),
        "header": (p.header_text, p.header_bg),
        "primary": (p.primary_text, p.primary_bg),
        "primary pressed": (p.primary_text, p.primary_pressed),
        "secondary": (p.secondary_text, p.secondary_bg),
        "secondary pressed": (p.secondary_text, p.secondary_pressed),
        "disabled": (p.disabled_text, p.disabled_bg),
        "info banner": (p.info_text, p.info_bg),
        "warning banner": (p.warning_text, p.warning_bg),
        "mark on surface": (p.surface, p.problem_mark),
        "wait mark": (p.surface, p.wait_mark),
        "info mark": (p.surface, p.info_mark),
    }
