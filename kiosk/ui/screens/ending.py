"""The session is over: please take your card."""

from __future__ import annotations

from kivy.metrics import dp

from kiosk.flow.screens import ScreenName
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.widgets import CardSlotArt


class EndingScreen(KioskScreen):
    """The session is over; the one thing left to do is take the card."""

    screen_name = ScreenName.ENDING
    prompts = ("ending.title", "ending.body")

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, p = ctx.t, self.theme.palette
        self.art = CardSlotArt(self.theme, mode="take", animate=ctx.animate,
                               size_hint_y=None, height=dp(460))
        for widget in (
            spacer(0.7), self.art,
            self.text("display", text=t("ending.body"), bold=True),
            self.text("title", text=t("ending.title"), colour=p.text_muted),
            self.text("heading", text=t("ending.thanks"), colour=p.text_muted),
            spacer(1),
        ):
            self.column.add_widget(widget)

    def started(self) -> None:
        self.art.start()

    def stopped(self) -> None:
        self.art.stop()
