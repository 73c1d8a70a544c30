"""The greeting and the services on offer: one big button per journey the flow offers, and
the one-tap switch between elder (large text) and normal mode."""

from __future__ import annotations

from collections.abc import Callable

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.flow.journeys import JOURNEYS
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext, show_freshness, spacer
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import Banner, ColumnBreak, FitBox, KioskButton, Surface, Text

_TARGETS = {journey.key: journey.home_target for journey in JOURNEYS}
MAX_ONE_COLUMN = 4


class HomeScreen(KioskScreen):
    screen_name = ScreenName.HOME
    prompts = ("home.prompt",)
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th = ctx.t, self.theme
        self.greeting = self.text("display", bold=True)
        self.prompt = self.text("heading", text=t("home.prompt"), colour=th.palette.text_muted)
        self.stale = Banner(th, "warning")
        self.services = BoxLayout(orientation="vertical", size_hint_y=None,
                                  spacing=dp(th.spacing))
        self.services.bind(minimum_height=self.services.setter("height"))
        self._offered: tuple[str, ...] = ()
        self.end = self.button("home.end", Action.END, primary=False, text=t("home.end"))
        tip = Surface(orientation="vertical", size_hint_y=None, spacing=dp(10),
                      padding=(dp(32), dp(24)), fill=rgba(th.palette.info_bg),
                      radius=dp(th.radius))
        tip.bind(minimum_height=tip.setter("height"))
        tip.add_widget(Text(th, "heading", halign="left", bold=True,
                            colour=th.palette.info_text, text=t("home.tip.title")))
        self.tip = Text(th, "body", halign="left", colour=th.palette.info_text,
                        text=t("home.tip.body"))
        tip.add_widget(self.tip)
        # Labelled by what it does, in this mode: the screens are rebuilt in the other theme
        # once it is tapped, so the label never has to change in place.
        other = "normal" if th.name == "elder" else "elder"
        row_h = th.button_height
        self.mode = self.button(
            "home.mode", Action.TOGGLE_MODE, primary=False, height=row_h,
            text=(f"[b]{t(f'home.mode.to_{other}')}[/b]\n"
                  f"[size={int(dp(th.small))}]{t(f'home.mode.to_{other}_hint')}[/size]"))
        self.end.height = dp(row_h)
        # Side by side: seven services already fill a portrait screen in elder mode.
        row = BoxLayout(size_hint_y=None, height=dp(row_h), spacing=dp(th.spacing))
        row.add_widget(self.mode)
        row.add_widget(self.end)
        # The greeting and its question as one block, closer together than the column's
        # spacing: every child of the column costs a gap, and with the stale-data notice the
        # column is full (in elder mode, in English).
        hello = FitBox(spacing=dp(8))
        hello.add_widget(self.greeting)
        hello.add_widget(self.prompt)
        parts: tuple[Widget, ...] = (
            spacer(0.35), hello, self.stale, self.services, spacer(0.5), tip, spacer(0.6), row)
        if self.landscape:  # the greeting and the tip on the left, the services on the right
            parts = (spacer(0.5), hello, self.stale, spacer(0.3), tip, ColumnBreak(),
                     self.services, spacer(0.5), row)
        for widget in parts:
            self.column.add_widget(widget)

    def _service_button(self, key: str, rows: int) -> KioskButton:
        t, th = self.ctx.t, self.theme
        start = self.ctx.on_journey
        # 2.9 rows of big buttons fit under the greeting, with the stale-data notice too (2.55
        # beside it, in a landscape window); more share that height, never below a comfortable
        # touch target (well above the 60 dp elder-mode minimum).
        fit, least = (2.55, th.button_height) if self.landscape else (2.9, th.button_height * 1.2)
        height = max(th.big_button_height * min(1.0, fit / max(rows, 1)), least)
        name, hint = t(f"home.{key}"), t(f"home.{key}_hint")

        def words(scale: float) -> str:
            return f"[b]{name}[/b]\n[size={int(dp(th.body * scale))}]{hint}[/size]"

        button = KioskButton(
            th, _TARGETS.get(key, f"home.{key}"), Action.START_JOURNEY,
            lambda _action: start(key), height=height, text=words(1.0), font_size=th.title,
        )
        _shrink_to_fit(button, lambda scale: (words(scale), dp(th.title * scale)))
        return button

    def render(self, view: View) -> None:
        t = self.ctx.t
        self.greeting.text = t("home.greeting", name=view.display_name)
        # No card in the slot (a QR code, an ID card): nothing to take back at the end.
        card = view.session_method in (None, "card")
        self.tip.text = t("home.tip.body" if card else "home.tip.body_nocard")
        self.end.text = t("home.end" if card else "home.end_nocard")
        show_freshness(self.ctx.t, view, self.stale)
        if view.journeys != self._offered:
            self._offered = view.journeys
            self._lay_out(view.journeys)

    def _lay_out(self, keys: tuple[str, ...]) -> None:
        self.services.clear_widgets()
        if len(keys) <= MAX_ONE_COLUMN:
            for key in keys:
                self.services.add_widget(self._service_button(key, len(keys)))
            return
        # Past four services, pairs side by side: seven full-width buttons push the greeting
        # off the screen. An odd last one keeps the full width (the staff-only service,
        # usually: its long name needs it).
        rows = -(-len(keys) // 2)
        paired = keys[: len(keys) - len(keys) % 2]
        grid = GridLayout(cols=2, size_hint_y=None, spacing=dp(self.theme.spacing))
        grid.bind(minimum_height=grid.setter("height"))
        for key in paired:
            grid.add_widget(self._service_button(key, rows))
        self.services.add_widget(grid)
        for key in keys[len(paired):]:
            self.services.add_widget(self._service_button(key, rows))

    def clear(self) -> None:
        self.greeting.text = ""
        self.stale.hide()


SMALLEST = 0.65  # of the theme's sizes: elder mode's names stay at 34 dp, its hints at 22


def _shrink_to_fit(button: KioskButton, styled: Callable[[float], tuple[str, float]]) -> None:
    """Smaller words, step by step, while they overflow the button: English runs to more
    lines than Chinese in the two-column grid. Measured now (texture_update), not a frame
    later, so that no frame shows words spilling out."""

    def fit(*_: object) -> None:
        scale = 1.0
        # The wrap width is set here, not left to the button's own size binding: that one may
        # run after this one, and the words were measured at the old width.
        button.text_size = (button.width - dp(24), None)
        while True:
            button.text, button.font_size = styled(scale)
            button.texture_update()
            if button.texture_size[1] <= button.height - dp(16) or scale <= SMALLEST:
                return
            scale = max(SMALLEST, scale - 0.05)

    button.bind(size=fit)
