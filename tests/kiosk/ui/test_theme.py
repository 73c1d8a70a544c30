"""Elder-mode rules (MIIT 适老化, WCAG): text size, touch targets, contrast."""

from __future__ import annotations

import pytest

from kiosk.ui.theme import ELDER, NORMAL, THEMES, contrast_ratio, text_pairs, theme_named


@pytest.mark.parametrize("theme", list(THEMES.values()), ids=list(THEMES))
def test_contrast_of_every_text_pair(theme) -> None:
    for name, (fg, bg) in text_pairs(theme.palette).items():
        ratio = contrast_ratio(fg, bg)
        # Body text aims for AAA (7:1); marks are large glyphs, disabled buttons are exempt.
        floor = 4.5 if ("mark" in name or name == "disabled") else 7.0
        assert ratio >= floor, f"{name}: {ratio:.2f}"


def test_elder_mode_sizes() -> None:
    assert min(ELDER.text_sizes.values()) >= 24  # MIIT asks for 18 dp; we go bigger
    assert ELDER.body >= 32 and ELDER.display >= 60
    assert ELDER.button_height >= 60 * 2  # touch targets far above 60x60 dp
    assert ELDER.row_height >= 60
    for size in ("display", "title", "heading", "body", "small", "button"):
        assert ELDER.text_sizes[size] > NORMAL.text_sizes[size]


def test_normal_mode_is_still_readable() -> None:
    assert min(NORMAL.text_sizes.values()) >= 18 and NORMAL.button_height >= 60


def test_contrast_formula() -> None:
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)


def test_unknown_theme_names_fall_back_to_elder() -> None:
    assert theme_named("dark") is ELDER and theme_named("normal") is NORMAL
