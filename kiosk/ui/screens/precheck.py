"""The pre-check's result in plain words: passed, refused (with each reason), or "could not
check now, you may still apply"."""

from __future__ import annotations

from kivy.metrics import dp

from kiosk.flow.journeys.apply import Prechecked
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import FitBox, Mark, Surface, Text


class PrecheckScreen(KioskScreen):
    screen_name = ScreenName.PRECHECK
    prompts = ("precheck.title",)
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th, p = ctx.t, self.theme, self.theme.palette
        self.title = self.text("title", text=t("precheck.title"), bold=True, halign="left")
        self.subject = self.text("heading", halign="left", colour=p.text_muted)
        self.panel = Surface(orientation="vertical", size_hint_y=None,
                             padding=(dp(th.padding), dp(th.padding)), spacing=dp(th.spacing),
                             fill=rgba(p.surface), outline=rgba(p.divider),
                             radius=dp(th.radius * 1.5))
        self.panel.bind(minimum_height=self.panel.setter("height"))
        self.mark = Mark(th, diameter=120, pos_hint={"center_x": 0.5})
        self.verdict = self.text("display", bold=True)
        self.body = self.text("heading")
        self.findings = FitBox(spacing=dp(10))
        words = (self.verdict, self.body, self.findings)
        if self.landscape:  # half the height: the mark beside the words, not above them
            self.panel.orientation = "horizontal"
            self.mark.pos_hint = {"center_y": 0.5}
            beside = FitBox(spacing=dp(th.spacing), pos_hint={"center_y": 0.5})
            for widget in words:
                beside.add_widget(widget)
            self.panel.add_widget(self.mark)
            self.panel.add_widget(beside)
        else:
            for widget in (self.mark, *words):
                self.panel.add_widget(widget)
        self.back = self.button("precheck.back", Action.BACK, primary=False,
                                text=t("precheck.back"))
        self.next = self.button("precheck.next", Action.NEXT, text=t("precheck.next"))
        self.done = self.button("precheck.done", Action.DONE, text=t("precheck.done"))
        self.actions = self.action_row(self.back, self.next)
        for widget in (self.title, self.subject, spacer(0.3), self.panel, spacer(1),
                       self.actions):
            self.column.add_widget(widget)
        self._shown: Prechecked | None = None

    def render(self, view: View) -> None:
        content = view.content
        shown = content.data if content is not None else None
        if not isinstance(shown, Prechecked) or shown == self._shown:
            return
        self._shown = shown
        t, th, p = self.ctx.t, self.theme, self.theme.palette
        result = shown.result
        state = "ok" if result.ok else ("unchecked" if not result.checked else "refused")
        self.subject.text = shown.subsidy.name
        self.mark.glyph = {"ok": "√", "unchecked": "i", "refused": "!"}[state]
        self.mark.fill = rgba({"ok": p.info_mark, "unchecked": p.wait_mark,
                               "refused": p.problem_mark}[state])
        self.verdict.text = t(f"precheck.{state}.title")
        self.body.text = t(f"precheck.{state}.body")
        self.findings.clear_widgets()
        for finding in result.findings:
            words = (finding.message if t.chinese and finding.message
                     else t.optional(f"finding.{finding.code}", finding.message or finding.code))
            self.findings.add_widget(Text(th, "heading", halign="left", colour=p.text,
                                          text=f"• {words}"))
        self.actions.clear_widgets()
        self.actions.add_widget(self.back)
        self.actions.add_widget(self.next if shown.may_continue else self.done)

    def clear(self) -> None:
        self._shown = None
        self.subject.text = ""
        self.findings.clear_widgets()
