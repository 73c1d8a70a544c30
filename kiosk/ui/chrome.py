"""What frames every screen: the header band with the clock and the citizen's controls
(language, sound), the help footer, and the idle warning that covers everything when a session
is about to time out."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout

from common.clock import china_now
from kiosk.flow.prefs import VOLUME_LEVELS
from kiosk.flow.screens import Action
from kiosk.flow.view import View
from kiosk.ui.screens import UiContext
from kiosk.ui.screens.base import landscape
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import FitBox, KioskButton, ModalLayer, Text


class _Band(BoxLayout):
    def __init__(self, colour: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(*rgba(colour))
            self._rect = Rectangle()
        self.bind(pos=self._redraw, size=self._redraw)

    def _redraw(self, *_: object) -> None:
        self._rect.pos, self._rect.size = self.pos, self.size


class _HeaderButton(KioskButton):
    """A control on the header band: outlined in white on blue, like the band's own words,
    so that it reads as part of the frame, not as one of the screen's own buttons."""

    def _redraw(self, *_: object) -> None:
        p = self._theme.palette
        if self.disabled:
            bg, fg = p.header_bg, p.disabled_bg
        else:
            bg, fg = (p.primary_pressed if self.state == "down" else p.primary_bg), p.header_text
        self.color = self.disabled_color = rgba(fg)
        self._frame.update(self.pos, self.size, dp(self._theme.radius), rgba(bg), rgba(fg))


class Header(BoxLayout):
    """Service name on the left, time and date on the right (elderly users like to see both);
    under them the controls every screen shares: the other language, and the sound (mute,
    quieter, louder) where there is a voice. Each is one tap (kiosk.flow.prefs)."""

    def __init__(self, ctx: UiContext, sound: bool = True) -> None:
        th, p, t = ctx.theme, ctx.theme.palette, ctx.t
        # Well above the touch minimum in both themes (60 dp elder, 44 dp normal).
        control_h = round(th.button_height * 0.6)
        # A landscape window is short and wide: the controls go between the name and the
        # clock there, and under them in a portrait one.
        wide = landscape()
        super().__init__(orientation="vertical", size_hint_y=None)
        self._t = t
        # As tall as its words need: a long English title wraps to a second line.
        self.bind(minimum_height=self.setter("height"))
        band = _Band(p.header_bg, orientation="vertical", size_hint_y=None,
                     padding=(dp(th.padding), dp(12)))
        band.bind(minimum_height=band.setter("height"))
        top = BoxLayout(orientation="horizontal", size_hint_y=None, spacing=dp(th.spacing))
        # The clock needs little width ("09:30", "5 Dec 2026"): the rest goes to the service's
        # name, on one line (a second one cost every screen 60-70 px).
        names = FitBox(pos_hint={"center_y": 0.5}, size_hint_x=0.38 if wide else 0.72,
                       spacing=dp(4))
        title = Text(th, "title", colour=p.header_text, halign="left", bold=True,
                     text=t("app.title"))
        names.add_widget(title)
        names.add_widget(Text(th, "small", colour=p.header_text, halign="left",
                              text=t("app.subtitle")))
        title.bind(width=lambda *_: _one_line(title, dp(th.title), dp(th.heading)))
        when = FitBox(pos_hint={"center_y": 0.5}, size_hint_x=0.16 if wide else 0.28,
                      spacing=dp(2))
        self.time = Text(th, "title", colour=p.header_text, halign="right", bold=True)
        self.date = Text(th, "small", colour=p.header_text, halign="right")
        when.add_widget(self.time)
        when.add_widget(self.date)
        self.controls = BoxLayout(orientation="horizontal", size_hint_y=None,
                                  height=dp(control_h), spacing=dp(th.spacing * 0.6),
                                  size_hint_x=0.46 if wide else 1, pos_hint={"center_y": 0.5})
        for part in (names, self.controls, when) if wide else (names, when):
            top.add_widget(part)

        def fit(*_: object) -> None:
            top.height = max(names.height, when.height, dp(control_h))

        names.bind(height=fit)
        when.bind(height=fit)
        fit()
        band.add_widget(top)
        self.add_widget(band)

        # In a portrait window the controls sit on a light strip under the band, styled as
        # the screen's own secondary buttons.
        button = _HeaderButton if wide else KioskButton

        def control(target: str, action: Action, key: str, **kwargs: Any) -> KioskButton:
            return button(th, target, action, ctx.on_action, primary=False, height=control_h,
                          font_size=th.small, text=t(key), **kwargs)

        # Named in the language it switches to ("English", "中文"): whoever needs it can read it.
        self.language = control("chrome.language", Action.TOGGLE_LANGUAGE, "chrome.language")
        self.controls.add_widget(self.language)
        self.sound = sound
        self.mute = control("chrome.mute", Action.TOGGLE_MUTE, "chrome.mute")
        self.quieter = control("chrome.volume-down", Action.VOLUME_DOWN, "chrome.volume_down")
        # As wide as a button in the band: "Volume 3/5" on one line there.
        self.level = Text(th, "small", colour=p.header_text if wide else p.text_muted,
                          size_hint_x=1.0 if wide else 0.7, pos_hint={"center_y": 0.5})
        self.louder = control("chrome.volume-up", Action.VOLUME_UP, "chrome.volume_up")
        if sound:  # no voice on this terminal: no sound buttons that would do nothing
            for widget in (self.mute, self.quieter, self.level, self.louder):
                self.controls.add_widget(widget)
        if not wide:
            strip = _Band(p.background, orientation="vertical", size_hint_y=None,
                          height=dp(control_h + 24), padding=(dp(th.padding), dp(12)))
            strip.add_widget(self.controls)
            self.add_widget(strip)
        self.tick()
        self._clock = Clock.schedule_interval(lambda _dt: self.tick(), 5)

    def tick(self) -> None:
        now = china_now()
        self.time.text = f"{now:%H:%M}"
        self.date.text = self._t.date(now.date())

    def render(self, view: View, *, enabled: bool = True) -> None:
        """The sound controls' state; `enabled` False (out of service): no controls at all."""
        prefs, t = view.prefs, self._t
        self.controls.opacity = 1 if enabled else 0
        self.language.disabled = not enabled
        self.mute.text = t("chrome.unmute" if prefs.muted else "chrome.mute")
        self.level.text = t("chrome.volume", level=prefs.volume, levels=VOLUME_LEVELS)
        self.mute.disabled = not (enabled and self.sound)
        self.quieter.disabled = not (enabled and self.sound) or prefs.volume <= 1
        self.louder.disabled = not (enabled and self.sound) or prefs.volume >= VOLUME_LEVELS

    def close(self) -> None:
        """The header is replaced (another theme or language): stop its clock."""
        self._clock.cancel()


def _one_line(label: Text, largest: float, smallest: float) -> None:
    """The label's words on one line at its width: a smaller font, step by step, down to
    `smallest`; below that they wrap (measured now, so no frame shows two lines)."""
    if label.width <= 1:
        return
    size = largest
    while True:
        label.font_size = size
        label.text_size = (None, None)
        label.texture_update()
        fits = label.texture_size[0] <= label.width
        if fits or size <= smallest:
            break
        size = max(smallest, size - dp(2))
    label.text_size = (label.width, None)
    label.texture_update()


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


class IdleOverlay(ModalLayer):
    """"Are you still there?" with a countdown and one big button. Modal while shown."""

    def __init__(self, ctx: UiContext) -> None:
        th, p, t = ctx.theme, ctx.theme.palette, ctx.t
        super().__init__(th, width=0.86, spacing=th.spacing)
        self._t = t
        self.title = Text(th, "display", bold=True, text=t("idle.title"))
        self.seconds = Text(th, "display", bold=True, colour=p.primary_bg)
        self.seconds.font_size = dp(th.display * 1.8)
        self.body = Text(th, "heading", text=t("idle.body"))
        self.hint = Text(th, "body", colour=p.text_muted, text=t("idle.hint"))
        self.extend = KioskButton(th, "idle.extend", Action.EXTEND, ctx.on_action,
                                  text=t("button.extend"), height=th.button_height * 1.15)
        for widget in (self.title, self.seconds, self.body, self.hint, self.extend):
            self.panel.add_widget(widget)
        self.shown = False

    def render(self, view: View) -> None:
        self.shown = view.idle_seconds_left is not None
        self.opacity = 1 if self.shown else 0
        if self.shown:
            self.seconds.text = str(view.idle_seconds_left)
