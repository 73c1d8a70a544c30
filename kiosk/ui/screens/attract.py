"""'Please insert your card': the screen nobody is using."""

from __future__ import annotations

from kivy.metrics import dp

from kiosk.flow.screens import ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.widgets import Banner, CardSlotArt


class AttractScreen(KioskScreen):
    screen_name = ScreenName.ATTRACT
    prompts = ("attract.title", "attract.hint")

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, p = ctx.t, self.theme.palette
        self.art = CardSlotArt(self.theme, animate=ctx.animate, size_hint_y=None,
                               height=dp(520))
        self.title = self.text("display", text=t("attract.title"), bold=True)
        self.hint = self.text("heading", text=t("attract.hint"))
        self.keep = self.text("body", text=t("attract.keep"), colour=p.text_muted)
        self.reader = Banner(self.theme, "warning")
        for widget in (spacer(0.6), self.art, self.title, self.hint, self.keep, spacer(0.5),
                       self.reader, spacer(0.3)):
            self.column.add_widget(widget)

    def render(self, view: View) -> None:
        if view.reader_available:
            self.reader.hide()
        else:
            self.reader.show(self.ctx.t("attract.reader_unavailable"))

    def started(self) -> None:
        self.art.start()

    def stopped(self) -> None:
        self.art.stop()
