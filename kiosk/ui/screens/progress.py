"""Reading, identifying and loading: one calm 'please wait' layout, each with its own words.

While the card is being used it is drawn standing in the slot, a reminder not to pull it.
"""

from __future__ import annotations

from typing import ClassVar

from kivy.metrics import dp

from kiosk.flow.screens import ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.widgets import BusyDots, CardSlotArt


class ProgressScreen(KioskScreen):
    key: ClassVar[str]  # i18n prefix: "<key>.title", "<key>.body"
    card: ClassVar[bool] = False  # draw the card in its slot

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        self.dots = BusyDots(self.theme, scale=1.5, animate=ctx.animate,
                             pos_hint={"center_x": 0.5})
        self.title = self.text("display", text=ctx.t(f"{self.key}.title"), bold=True)
        self.body = self.text("title", text=ctx.t(f"{self.key}.body"),
                              colour=self.theme.palette.text_muted)
        widgets = [spacer(0.8), self.dots, self.title, self.body, spacer(1.2)]
        self.art: CardSlotArt | None = None
        if self.card:
            self.art = CardSlotArt(self.theme, mode="inside", size_hint_y=None, height=dp(380))
            widgets.insert(1, self.art)
        for widget in widgets:
            self.column.add_widget(widget)

    def started(self) -> None:
        self.dots.start()

    def stopped(self) -> None:
        self.dots.stop()


class ReadingScreen(ProgressScreen):
    screen_name = ScreenName.READING
    key = "reading"
    card = True
    prompts = ("reading.title", "reading.body")


class IdentifyingScreen(ProgressScreen):
    screen_name = ScreenName.IDENTIFYING
    key = "identifying"
    card = True
    prompts = ("identifying.title", "identifying.body")

    def prompt_keys(self, view: View) -> tuple[str, ...]:
        return self.prompts if self._by_card(view) else ("identifying.title",
                                                          "identifying.body_nocard")

    @staticmethod
    def _by_card(view: View) -> bool:
        return view.identifying_by in (None, "card")

    def render(self, view: View) -> None:
        # A QR code or an ID card: no card in the slot to keep in.
        card = self._by_card(view)
        if self.art is not None:
            self.art.opacity = 1 if card else 0
        self.body.text = self.ctx.t("identifying.body" if card else "identifying.body_nocard")


class LoadingScreen(ProgressScreen):
    screen_name = ScreenName.LOADING
    key = "loading"
    prompts = ("loading.title",)


class SubmittingScreen(ProgressScreen):
    screen_name = ScreenName.SUBMITTING
    key = "submitting"
    prompts = ("submitting.title", "submitting.body")
