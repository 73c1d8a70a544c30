"""What will be submitted, row by row, what confirming will do, and the button that does it.

Words come from the journey on screen: `<journey>.confirm.title`, `<journey>.confirm.button`.
"""

from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout

from kiosk.flow.journeys.steps import Confirmation, Row
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import Banner, ColumnBreak, Surface, Text


class ConfirmScreen(KioskScreen):
    screen_name = ScreenName.CONFIRM
    prompts = ("confirm.title",)
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th, p = ctx.t, self.theme, self.theme.palette
        self.title = self.text("title", bold=True, halign="left")
        self.table = Surface(orientation="vertical", size_hint_y=None, padding=(dp(28), dp(18)),
                             spacing=dp(12), fill=rgba(p.surface), outline=rgba(p.divider),
                             radius=dp(th.radius))
        self.table.bind(minimum_height=self.table.setter("height"))
        self.warning = Banner(th, "warning")
        self.confirm = self.button("confirm.confirm", Action.CONFIRM, text="")
        actions = self.action_row(
            self.button("confirm.back", Action.BACK, primary=False, text=t("button.back")),
            self.confirm,
        )
        # Landscape: the title and the warning on the left, what is to be confirmed beside.
        parts = ((self.title, self.warning, spacer(1), ColumnBreak(), self.table, actions)
                 if self.landscape else
                 (self.title, self.table, spacer(0.2), self.warning, spacer(1), actions))
        for widget in parts:
            self.column.add_widget(widget)
        self._shown: tuple[str, Confirmation] | None = None

    def prompt_keys(self, view: View) -> tuple[str, ...]:
        journey = self.journey_key(view, "confirm")
        return (f"{journey}.confirm.title", f"{journey}.confirm.warning")

    def render(self, view: View) -> None:
        content = view.content
        data = content.data if content is not None else None
        if not isinstance(data, Confirmation):
            return
        journey = self.journey_key(view)
        if self._shown == (journey, data):
            return
        self._shown = (journey, data)
        t = self.ctx.t
        self.title.text = t(f"{journey}.confirm.title")
        self.confirm.text = t(f"{journey}.confirm.button")
        self.table.clear_widgets()
        for row in data.rows:
            self.table.add_widget(self._row(row))
        if data.warning:
            self.warning.show(t(data.warning))
        else:
            self.warning.hide()

    def _row(self, row: Row) -> BoxLayout:
        t, th, p = self.ctx.t, self.theme, self.theme.palette
        line = BoxLayout(size_hint_y=None, height=dp(th.row_height))
        label = Text(th, "body", halign="left", colour=p.text_muted, text=t(row.label))
        value = Text(th, "heading", halign="right", bold=True,
                     text=t.period(row.value) if row.format == "period" else row.value)
        for widget, weight in ((label, 0.4), (value, 0.6)):
            widget.size_hint = (weight, 1)
            widget.unbind(texture_size=widget._fit)
            line.add_widget(widget)
        return line

    def clear(self) -> None:
        self._shown = None
        self.table.clear_widgets()
        self.warning.hide()
