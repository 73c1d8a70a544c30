"""The striped, fixed-height table of the record screens (contributions, pension account):
one row of cells with given widths, amounts right-aligned so their decimal points line up."""

from __future__ import annotations

from collections.abc import Sequence

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.theme import Theme, rgba
from kiosk.ui.widgets import Surface, Text


def table_row(theme: Theme, cells: Sequence[str], weights: Sequence[float], *,
              amounts: frozenset[int] = frozenset(), header: bool = False,
              shaded: bool = False) -> BoxLayout:
    p = theme.palette
    row = Surface(
        orientation="horizontal", size_hint_y=None, height=dp(theme.row_height),
        fill=rgba(p.info_bg if header else (p.background if shaded else p.surface)),
        radius=dp(8), padding=(dp(12), 0),
    )
    for i, (cell, weight) in enumerate(zip(cells, weights, strict=True)):
        amount = i in amounts
        label = Text(theme, "body", text=cell, bold=header,
                     colour=p.info_text if header else p.text,
                     halign="right" if amount else "center")
        label.size_hint = (weight, 1)
        label.unbind(texture_size=label._fit)  # rows have a fixed height
        if amount:
            label.padding = (0, 0, dp(16), 0)
        row.add_widget(label)
    return row


def table(theme: Theme) -> Surface:
    """The table's frame, as tall as its rows."""
    p = theme.palette
    frame = Surface(orientation="vertical", size_hint_y=None, fill=rgba(p.surface),
                    outline=rgba(p.divider), radius=dp(theme.radius), padding=(dp(8), dp(8)))
    frame.bind(minimum_height=frame.setter("height"))
    return frame
