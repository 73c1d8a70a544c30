"""The subsidies this citizen may apply for: one big button per eligible one, the others with
the reason in plain words (the apply journey's first step)."""

from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.widget import Widget

from kiosk.edge.models import SubsidyItem
from kiosk.flow.journeys.apply import SubsidyChoice
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext, show_freshness, spacer
from kiosk.ui.screens.pager import Pager
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import Banner, FitBox, Surface, Text


class SubsidiesScreen(KioskScreen):
    screen_name = ScreenName.SUBSIDIES
    prompts = ("subsidies.title", "subsidies.prompt")
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th = ctx.t, self.theme
        self.title = self.text("title", text=t("subsidies.title"), bold=True, halign="left")
        self.prompt = self.text("heading", text=t("subsidies.prompt"), halign="left",
                                colour=th.palette.text_muted)
        self.stale = Banner(th, "warning")
        self.rows = FitBox(spacing=dp(th.spacing))
        self.pager = Pager(self, "subsidies")
        actions = self.action_row(
            self.button("subsidies.back", Action.BACK, primary=False, text=t("button.back")),
            self.button("subsidies.end", Action.END, text=t("button.end")),
        )
        for widget in (self.title, self.prompt, self.stale, self.rows, spacer(1), self.pager,
                       actions):
            self.column.add_widget(widget)
        self._shown: SubsidyChoice | None = None

    def render(self, view: View) -> None:
        content = view.content
        data = content.data if content is not None else None
        choice = data if isinstance(data, SubsidyChoice) else None
        show_freshness(self.ctx.t, view, self.stale)
        if choice != self._shown:
            self._shown = choice
            self._fill(choice)
        self.pager.render(content)

    def _fill(self, choice: SubsidyChoice | None) -> None:
        self.rows.clear_widgets()
        if choice is None:
            return
        if not choice.subsidies.items:
            self.rows.add_widget(self.text("heading", text=self.ctx.t("subsidies.none")))
        for index, item in choice.rows:
            self.rows.add_widget(self._row(index, item))

    def _row(self, index: int, item: SubsidyItem) -> Widget:
        t, th, p = self.ctx.t, self.theme, self.theme.palette
        amount = t.money(item.amount) if item.amount is not None else t("subsidies.amount_later")
        facts = f"{amount} · {t.period(item.period)}"
        if item.eligible:
            return self.value_button(
                f"subsidies.item-{index}", Action.CHOOSE, str(index),
                height=th.big_button_height * 0.8, font_size=th.title,
                text=(f"[b]{item.name}[/b]\n[size={int(dp(th.body))}]{facts} · "
                      f"{t('subsidies.eligible')}[/size]"),
            )
        box = Surface(orientation="vertical", size_hint_y=None, padding=(dp(28), dp(16)),
                      spacing=dp(6), fill=rgba(p.disabled_bg), radius=dp(th.radius))
        box.bind(minimum_height=box.setter("height"))
        box.add_widget(Text(th, "heading", bold=True, colour=p.disabled_text,
                            text=f"{item.name}（{t('subsidies.not_eligible')}）"))
        box.add_widget(Text(th, "body", colour=p.text, text=item.reason or facts))
        return box

    def clear(self) -> None:
        self._shown = None
        self.rows.clear_widgets()
        self.stale.hide()
