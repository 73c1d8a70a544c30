"""'Please insert your card': the screen nobody is using."""

from __future__ import annotations

from kivy.metrics import dp

from kiosk.flow.journeys import JOURNEYS
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.widgets import Banner, CardSlotArt, FitBox, KioskButton

_TARGETS = {journey.key: journey.home_target for journey in JOURNEYS}


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
        # Services that need no card (a lost one): small, below the main invitation.
        self.walk_up = FitBox(spacing=dp(self.theme.spacing))
        self._offered: tuple[str, ...] = ()
        for widget in (spacer(0.6), self.art, self.title, self.hint, self.keep, spacer(0.5),
                       self.reader, self.walk_up, spacer(0.3)):
            self.column.add_widget(widget)

    def _walk_up_button(self, key: str) -> KioskButton:
        start = self.ctx.on_journey
        return KioskButton(self.theme, _TARGETS.get(key, f"attract.{key}"),
                           Action.START_JOURNEY, lambda _action: start(key), primary=False,
                           text=self.ctx.t(f"attract.{key.replace('-', '_')}"))

    def render(self, view: View) -> None:
        if view.walk_up != self._offered:
            self._offered = view.walk_up
            self.walk_up.clear_widgets()
            for key in view.walk_up:
                self.walk_up.add_widget(self._walk_up_button(key))
        if view.reader_available:
            self.reader.hide()
        else:
            self.reader.show(self.ctx.t("attract.reader_unavailable"))

    def started(self) -> None:
        self.art.start()

    def stopped(self) -> None:
        self.art.stop()
