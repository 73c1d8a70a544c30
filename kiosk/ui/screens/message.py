"""Something to tell the citizen: a failure, a retry in progress, advice."""

from __future__ import annotations

from typing import ClassVar

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout

from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import Tone, View
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import BusyDots, FitBox, KioskButton, Mark, Surface


class MessageScreen(KioskScreen):
    """One message in a calm white panel: a round mark, a short title, a few short lines."""

    screen_name = ScreenName.MESSAGE

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        th, p = self.theme, self.theme.palette
        self.panel = Surface(orientation="vertical", size_hint_y=None,
                             padding=(dp(th.padding), dp(th.padding * 1.2)),
                             spacing=dp(th.spacing * 1.2), fill=rgba(p.surface),
                             outline=rgba(p.divider), radius=dp(th.radius * 1.5))
        self.panel.bind(minimum_height=self.panel.setter("height"))
        self.mark = Mark(th, pos_hint={"center_x": 0.5})
        self.title = self.text("display", bold=True)
        self.body = self.text("heading")
        # Words from outside the catalogue (maintenance: the operator's reason), as given.
        self.detail = self.text("heading", colour=p.info_text)
        self.retrying = FitBox(spacing=dp(16))
        self.dots = BusyDots(th, animate=ctx.animate, pos_hint={"center_x": 0.5})
        self.retry_text = self.text("body", colour=p.text_muted, text=ctx.t("message.retrying"))
        self.retrying.add_widget(self.dots)
        self.retrying.add_widget(self.retry_text)
        self.offer = self.text("heading", colour=p.info_text)
        # Other ways of identifying (the card cannot be used here): one line each.
        self.ways = self.text("heading", colour=p.info_text)
        # The words sit under the mark; in a landscape window beside it (half the height).
        self.words: BoxLayout = self.panel
        if self.landscape:
            self.panel.orientation = "horizontal"
            self.mark.pos_hint = {"center_y": 0.5}
            self.words = FitBox(spacing=dp(th.spacing * 1.2), pos_hint={"center_y": 0.5})
            self.panel.add_widget(self.mark)
            self.panel.add_widget(self.words)
        else:
            self.panel.add_widget(self.mark)
        for widget in (self.title, self.body, self.detail, self.offer, self.ways):
            # + self.retrying
            self.words.add_widget(widget)
        self.buttons = BoxLayout(size_hint_y=None, height=dp(th.button_height),
                                 spacing=dp(th.spacing))
        for widget in (spacer(0.6), self.panel, spacer(1), self.buttons):
            self.column.add_widget(widget)

    _BUTTONS: ClassVar[dict[Action, tuple[str, str, bool]]] = {
        Action.OK: ("message.ok", "button.ok", True),
        Action.BACK: ("message.back", "button.back", False),
        Action.END: ("message.end", "button.end", True),
    }

    def render(self, view: View) -> None:
        notice = view.notice
        if notice is None:
            return
        t, p = self.ctx.t, self.theme.palette
        self.mark.glyph = {"problem": "!", "wait": "…", "info": "i"}[notice.tone]
        self.mark.fill = rgba({Tone.PROBLEM: p.problem_mark, Tone.WAIT: p.wait_mark,
                               Tone.INFO: p.info_mark}[notice.tone])
        self.title.text = t(f"{notice.key}.title")
        self.body.text = t(f"{notice.key}.body")
        self.detail.text = t("message.reason", reason=notice.detail) if notice.detail else ""
        shown = self.retrying.parent is not None
        if notice.retrying and not shown:
            self.words.add_widget(self.retrying)
        elif not notice.retrying and shown:
            self.words.remove_widget(self.retrying)
        if notice.retrying:
            self.dots.start()
        else:
            self.dots.stop()
        wanted = tuple(a for a in notice.actions if a in self._BUTTONS)
        offered = notice.journey
        shown = tuple(b.target for b in self.buttons.children[::-1])
        targets = tuple(self._BUTTONS[a][0] for a in wanted) + (
            (f"message.{offered}",) if offered else ())
        if targets != shown:
            self.buttons.clear_widgets()
            for action in wanted:
                target, key, primary = self._BUTTONS[action]
                self.buttons.add_widget(self.button(target, action, primary=primary, text=t(key)))
            if offered:  # a service the notice offers instead (reversing a loss report)
                start = self.ctx.on_journey
                self.buttons.add_widget(KioskButton(
                    self.theme, f"message.{offered}", Action.START_JOURNEY,
                    lambda _action: start(offered), text=t(f"message.{offered}")))
        # No buttons, no row: a blank row still took its height, and in a landscape window it
        # was a second part of the column that split it in two (a long list of ways ran off).
        if targets and self.buttons.parent is None:
            self.column.add_widget(self.buttons)  # last, at the foot
        elif not targets and self.buttons.parent is not None:
            self.column.remove_widget(self.buttons)
        self.offer.text = t(f"message.{offered}.hint") if offered else ""
        self.ways.text = "\n".join((t("message.ways"), *(t(f"message.way.{way}")
                                                         for way in notice.ways))
                                   ) if notice.ways else ""

    def prompt_keys(self, view: View) -> tuple[str, ...]:
        notice = view.notice
        if notice is None:
            return ()
        offer = (f"message.{notice.journey}.hint",) if notice.journey else ()
        ways = tuple(f"message.way.{way}" for way in notice.ways)
        return (f"{notice.key}.title", f"{notice.key}.body", *offer, *ways)

    def stopped(self) -> None:
        self.dots.stop()
