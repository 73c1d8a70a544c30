"""What frames every screen: the header band with the clock, the help footer, and the idle
warning that covers everything when a session is about to time out."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.metrics import dp
from kivy.uix.anchorlayout import AnchorLayout
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout

from common.clock import china_now
from kiosk.flow.screens import Action
from kiosk.flow.view import View
from kiosk.ui.screens import UiContext
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import FitBox, KioskButton, Surface, Text


class _Band(BoxLayout):
    def __init__(self, colour: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(*rgba(colour))
            self._rect = Rectangle()
        self.bind(pos=self._redraw, size=self._redraw)

    def _redraw(self, *_: object) -> None:
        self._rect.pos, self._rect.size = self.pos, self.size


class Header(_Band):
    """Service name on the left, time and date on the right (elderly users like to see both)."""

    def __init__(self, ctx: UiContext) -> None:
        th, p, t = ctx.theme, ctx.theme.palette, ctx.t
        super().__init__(p.header_bg, orientation="horizontal", size_hint_y=None,
                         height=dp(th.header_height), padding=(dp(th.padding), dp(14)))
        self._t = t
        names = FitBox(pos_hint={"center_y": 0.5}, size_hint_x=0.62, spacing=dp(4))
        names.add_widget(Text(th, "title", colour=p.header_text, halign="left", bold=True,
                              text=t("app.title")))
        names.add_widget(Text(th, "small", colour=p.header_text, halign="left",
                              text=t("app.subtitle")))
        when = FitBox(pos_hint={"center_y": 0.5}, size_hint_x=0.38, spacing=dp(2))
        self.time = Text(th, "title", colour=p.header_text, halign="right", bold=True)
        self.date = Text(th, "small", colour=p.header_text, halign="right")
        when.add_widget(self.time)
        when.add_widget(self.date)
        self.add_widget(names)
        self.add_widget(when)
        self.tick()
        Clock.schedule_interval(lambda _dt: self.tick(), 5)

    def tick(self) -> None:
        now = china_now()
        self.time.text = f"{now:%H:%M}"
        self.date.text = self._t.date(now.date())


class Footer(_Band):
    def __init__(self, ctx: UiContext, device_id: str) -> None:
        th, p, t = ctx.theme, ctx.theme.palette, ctx.t
        super().__init__(p.background, orientation="horizontal", size_hint_y=None,
                         height=dp(th.footer_height), padding=(dp(th.padding), 0))
        with self.canvas.before:
            Color(*rgba(p.divider))
            self._line = Rectangle()
        self.bind(pos=self._line_to_top, size=self._line_to_top)
        help_text = Text(th, "small", colour=p.text_muted, halign="left", text=t("footer.help"),
                         size_hint_x=0.7, pos_hint={"center_y": 0.5})
        device = Text(th, "small", colour=p.text_muted, halign="right",
                      text=t("footer.device", device_id=device_id), size_hint_x=0.3,
                      pos_hint={"center_y": 0.5})
        self.add_widget(help_text)
        self.add_widget(device)

    def _line_to_top(self, *_: object) -> None:
        self._line.pos = (self.x, self.top - dp(2))
        self._line.size = (self.width, dp(2))


class IdleOverlay(FloatLayout):
    """"Are you still there?" with a countdown and one big button. Modal while shown."""

    def __init__(self, ctx: UiContext) -> None:
        super().__init__()
        th, p, t = ctx.theme, ctx.theme.palette, ctx.t
        self._t = t
        with self.canvas.before:
            self._scrim_colour = Color(*rgba(p.scrim, 0.6))
            self._scrim = Rectangle()
        self.bind(pos=self._redraw, size=self._redraw)
        anchor = AnchorLayout(anchor_x="center", anchor_y="center")
        self.panel = Surface(orientation="vertical", size_hint=(0.86, None),
                             padding=dp(th.padding), spacing=dp(th.spacing),
                             fill=rgba(p.surface), radius=dp(th.radius * 1.5))
        self.panel.bind(minimum_height=self.panel.setter("height"))
        self.title = Text(th, "display", bold=True, text=t("idle.title"))
        self.seconds = Text(th, "display", bold=True, colour=p.primary_bg)
        self.seconds.font_size = dp(th.display * 1.8)
        self.body = Text(th, "heading", text=t("idle.body"))
        self.hint = Text(th, "body", colour=p.text_muted, text=t("idle.hint"))
        self.extend = KioskButton(th, "idle.extend", Action.EXTEND, ctx.on_action,
                                  text=t("button.extend"), height=th.button_height * 1.15)
        for widget in (self.title, self.seconds, self.body, self.hint, self.extend):
            self.panel.add_widget(widget)
        anchor.add_widget(self.panel)
        self.add_widget(anchor)
        self.shown = False
        self.opacity = 0

    def _redraw(self, *_: object) -> None:
        self._scrim.pos, self._scrim.size = self.pos, self.size

    def render(self, view: View) -> None:
        self.shown = view.idle_seconds_left is not None
        self.opacity = 1 if self.shown else 0
        if self.shown:
            self.seconds.text = str(view.idle_seconds_left)

    # Invisible means absent: no touches are taken while hidden; all of them while shown.
    def on_touch_down(self, touch: Any) -> bool:
        if not self.shown:
            return False
        super().on_touch_down(touch)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        if not self.shown:
            return False
        super().on_touch_move(touch)
        return True

    def on_touch_up(self, touch: Any) -> bool:
        if not self.shown:
            return False
        super().on_touch_up(touch)
        return True
