"""Where the citizen's pension certification stands, in plain words, with one clear next step.

Due: the due date and "开始认证". Not due, done this cycle, not a pensioner: the explanation
and "返回". A failed capture: what to do differently ("请正对屏幕"), "再试一次" while tries
are left, and always the way to the service counter; a suspected spoof is never called one.
"""

from __future__ import annotations

from kivy.metrics import dp

from kiosk.flow.journeys.certify import CertifyInfo
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import KioskButton, Mark, Surface

_GOOD = ("due", "passed")
_INFO = ("done", "not-due", "pending")


def _info(view: View) -> CertifyInfo | None:
    data = view.content.data if view.content is not None else None
    return data if isinstance(data, CertifyInfo) else None


class CertifyScreen(KioskScreen):
    screen_name = ScreenName.CERTIFY
    prompts = ("certify.title",)
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th, p = ctx.t, self.theme, self.theme.palette
        self.title = self.text("title", text=t("certify.title"), bold=True)
        self.panel = Surface(orientation="vertical", size_hint_y=None,
                             padding=(dp(th.padding), dp(th.padding * 1.2)),
                             spacing=dp(th.spacing * 1.2), fill=rgba(p.surface),
                             outline=rgba(p.divider), radius=dp(th.radius * 1.5))
        self.panel.bind(minimum_height=self.panel.setter("height"))
        self.mark = Mark(th, diameter=120, pos_hint={"center_x": 0.5})
        self.headline = self.text("display", bold=True)
        self.body = self.text("heading")
        self.explanation = self.text("body", colour=p.text_muted)
        self.due = self.text("heading", bold=True, colour=p.info_text)
        self.counter = self.text("heading", colour=p.info_text)
        for widget in (self.mark, self.headline, self.body, self.explanation, self.due,
                       self.counter):
            self.panel.add_widget(widget)
        self.buttons = {
            "back": self.button("certify.back", Action.BACK, primary=False,
                                text=t("button.back")),
            "start": self.button("certify.start", Action.NEXT, text=t("certify.start")),
            "retry": self.button("certify.retry", Action.NEXT, text=t("certify.retry")),
            "send": self.button("certify.send", Action.NEXT, text=t("certify.send")),
            "counter": self.button("certify.counter", Action.DONE, primary=False,
                                   text=t("certify.to_counter")),
            "done": self.button("certify.done", Action.DONE, text=t("certify.done")),
        }
        self.actions = self.action_row()
        for widget in (self.title, spacer(0.4), self.panel, spacer(1), self.actions):
            self.column.add_widget(widget)
        self._shown: CertifyInfo | None = None

    def prompt_keys(self, view: View) -> tuple[str, ...]:
        info = _info(view)
        if info is None:
            return self.prompts
        keys = (f"{info.words}.title", f"{info.words}.body")
        if info.state == "failed":
            keys += ("certify.retry_hint",) if info.may_retry else ("certify.counter_hint",)
        return keys

    def render(self, view: View) -> None:
        info = _info(view)
        if info is None or info == self._shown:
            return
        self._shown = info
        t, p = self.ctx.t, self.theme.palette
        good, failed = info.state in _GOOD, info.state == "failed"
        self.mark.glyph = "√" if good else ("!" if failed else "i")
        self.mark.fill = rgba(p.info_mark if good else p.problem_mark if failed else p.wait_mark)
        self.headline.text = t(f"{info.words}.title")
        self.body.text = t(f"{info.words}.body")
        # The platform's own sentence says why (not due until ...): shown as it came.
        self.explanation.text = info.explanation if info.state in _INFO else ""
        self.due.text = (t("certify.due_date", date=t.date(info.due_date))
                         if info.due_date is not None and info.state in ("due", "done", "not-due")
                         else "")
        if failed:
            self.counter.text = (t("certify.retry_hint", left=info.attempts_left)
                                 if info.may_retry else t("certify.counter_hint"))
        else:
            self.counter.text = ""
        self._buttons(self._wanted(info))

    @staticmethod
    def _wanted(info: CertifyInfo) -> tuple[str, ...]:
        if info.may_start:
            return ("back", "start")
        if info.may_send:
            return ("back", "send")
        if info.state == "failed":
            return ("counter", "retry") if info.may_retry else ("counter",)
        return ("done",)

    def _buttons(self, names: tuple[str, ...]) -> None:
        shown: list[KioskButton] = list(self.actions.children[::-1])
        wanted = [self.buttons[name] for name in names]
        if shown != wanted:
            self.actions.clear_widgets()
            for button in wanted:
                self.actions.add_widget(button)

    def clear(self) -> None:
        self._shown = None
        self.explanation.text = self.due.text = ""
