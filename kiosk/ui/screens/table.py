"""The record screens (pension payments, contributions, pension account): their striped
table (one row of cells with given widths, amounts right-aligned so their decimal points line
up) and the screen around it, a page at a time (`PagedTableScreen`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.flow.screens import Action
from kiosk.flow.view import View
from kiosk.i18n import Translator
from kiosk.ui.screens.base import KioskScreen, UiContext, landscape, show_freshness, spacer
from kiosk.ui.screens.pager import Pager
from kiosk.ui.theme import Theme, rgba, rows_per_page
from kiosk.ui.widgets import Banner, ColumnBreak, Surface, Text

LANDSCAPE_ROWS = 0.85  # row height in a landscape window, of the theme's


def table_row(theme: Theme, cells: Sequence[str], weights: Sequence[float], *,
              amounts: frozenset[int] = frozenset(), bold: frozenset[int] = frozenset(),
              header: bool = False, shaded: bool = False) -> BoxLayout:
    p = theme.palette
    # Lower rows in a landscape window: a page of them fits beside the screen's other parts.
    least = dp(theme.row_height) * (LANDSCAPE_ROWS if landscape() else 1.0)
    row = Surface(
        orientation="horizontal", size_hint_y=None, height=least,
        fill=rgba(p.info_bg if header else (p.background if shaded else p.surface)),
        radius=dp(8), padding=(dp(12), 0),
    )
    for i, (cell, weight) in enumerate(zip(cells, weights, strict=True)):
        amount = i in amounts
        label = Text(theme, "body", text=cell, bold=header or i in bold,
                     colour=p.info_text if header else p.text,
                     halign="right" if amount else "center")
        label.size_hint = (weight, 1)
        label.unbind(texture_size=label._fit)  # the row sets its cells' height
        if amount:
            label.padding = (0, 0, dp(16), 0)
        row.add_widget(label)
    labels = list(row.children)

    def fit(*_: object) -> None:
        # Rows keep one height (a steady rhythm) unless a cell wraps, e.g. a two-line header
        # ("缴费基数（元）" in a narrow column): then the row grows rather than clip it.
        tallest = max(label.texture_size[1] for label in labels)
        row.height = max(least, tallest + dp(8))

    for label in labels:
        label.bind(texture_size=fit)
    fit()
    return row


def table(theme: Theme) -> Surface:
    """The table's frame, as tall as its rows."""
    p = theme.palette
    frame = Surface(orientation="vertical", size_hint_y=None, fill=rgba(p.surface),
                    outline=rgba(p.divider), radius=dp(theme.radius), padding=(dp(8), dp(8)))
    frame.bind(minimum_height=frame.setter("height"))
    return frame


class PagedTableScreen(KioskScreen):
    """A record screen: title, the data's age, what sits above the table (`summary`), the
    table a page at a time, the pager, back and end. A subclass says which payload it shows,
    its columns and its cells (`key` names its i18n keys and automation ids)."""

    key: ClassVar[str]
    payload: ClassVar[type]
    columns: ClassVar[tuple[str, ...]]  # i18n keys of the header cells
    weights: ClassVar[tuple[float, ...]]
    amounts: ClassVar[frozenset[int]] = frozenset()  # right-aligned columns
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th, p = ctx.t, self.theme, self.theme.palette
        self.title = self.text("title", text=t(f"{self.key}.title"), bold=True, halign="left")
        self.freshness = self.text("small", colour=p.text_muted, halign="left")
        self.stale = Banner(th, "warning")
        self.table = table(th)
        self.pager = Pager(self, self.key)
        actions = self.action_row(
            self.button(f"{self.key}.back", Action.BACK, primary=False, text=t("button.back")),
            self.button(f"{self.key}.end", Action.END, text=t("button.end")),
        )
        top = (self.title, self.freshness, self.stale, self.summary())
        # Landscape: what the table is about on the left, the table beside it, the pager
        # between back and end in the one row of buttons.
        if self.landscape:
            actions.add_widget(self.pager, index=1)
            self.pager.size_hint_x = 3
            self.column.first_share = 0.34  # six columns of figures need the room
        parts = ((*top, ColumnBreak(), self.table, actions)
                 if self.landscape else (*top, self.table, spacer(1), self.pager, actions))
        for widget in parts:
            self.column.add_widget(widget)
        self._shown: tuple[object, int] | None = None

    def summary(self) -> Widget:
        """What stands between the data's age and the table."""
        return Widget(size_hint_y=None, height=0)

    def summarise(self, shown: Any) -> None:
        """Fill `summary()` for `shown` (None: empty it)."""

    def cells(self, t: Translator, item: Any) -> list[str]:
        raise NotImplementedError

    def items(self, shown: Any) -> Sequence[Any]:
        return list(shown.items)

    def render(self, view: View) -> None:
        content = view.content
        data = content.data if content is not None else None
        shown = data if isinstance(data, self.payload) else None
        page = content.page if content is not None else 0
        show_freshness(self.ctx.t, view, self.stale, self.freshness)
        if self._shown != (shown, page):
            self._shown = (shown, page)
            self._fill(shown, page)
        self.pager.render(content)

    def _fill(self, shown: Any, page: int) -> None:
        t, th = self.ctx.t, self.theme
        self.table.clear_widgets()
        self.summarise(shown)
        if shown is None:
            return
        items = self.items(shown)
        if not items:
            self.table.add_widget(Text(th, "body", text=t(f"{self.key}.none"),
                                       colour=th.palette.text_muted))
            return
        self.table.add_widget(table_row(th, [t(c) for c in self.columns], self.weights,
                                        amounts=self.amounts, header=True))
        size = rows_per_page(th, self.landscape)
        for i, item in enumerate(items[page * size:(page + 1) * size]):
            self.table.add_widget(table_row(th, self.cells(t, item), self.weights,
                                            amounts=self.amounts, shaded=i % 2 == 1))

    def clear(self) -> None:
        self._shown = None
        self.table.clear_widgets()
        self.summarise(None)
        self.freshness.text = ""
        self.stale.hide()
