"""The citizen's applications (with what is still queued at the edge), and one application's
history from submission to the bank transfer or its return (回盘)."""

from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.widget import Widget

from common.clock import to_china
from kiosk.edge.models import Application, ApplicationStatus, HistoryEntry
from kiosk.flow.journeys.applications import ApplicationList
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.i18n import Translator
from kiosk.ui.screens.base import KioskScreen, UiContext, show_freshness, spacer
from kiosk.ui.screens.pager import Pager
from kiosk.ui.theme import Theme, rgba
from kiosk.ui.widgets import Banner, FitBox, Surface, Text

# Statuses that need the citizen's attention: shown in the warning colours.
_TROUBLE = frozenset({ApplicationStatus.REJECTED, ApplicationStatus.BANK_RETURNED,
                      ApplicationStatus.BANK_FAILED})


def status_words(t: Translator, status: ApplicationStatus) -> str:
    return t(f"status.{status}")


class ApplicationsScreen(KioskScreen):
    screen_name = ScreenName.APPLICATIONS
    prompts = ("applications.title",)
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th, p = ctx.t, self.theme, self.theme.palette
        self.title = self.text("title", text=t("applications.title"), bold=True, halign="left")
        self.freshness = self.text("small", colour=p.text_muted, halign="left")
        self.stale = Banner(th, "warning")
        self.queued = FitBox(spacing=dp(8))
        self.rows = FitBox(spacing=dp(th.spacing * 0.7))
        self.pager = Pager(self, "applications")
        actions = self.action_row(
            self.button("applications.back", Action.BACK, primary=False, text=t("button.back")),
            self.button("applications.end", Action.END, text=t("button.end")),
        )
        for widget in (self.title, self.freshness, self.stale, self.queued, self.rows,
                       spacer(1), self.pager, actions):
            self.column.add_widget(widget)
        self._shown: ApplicationList | None = None

    def render(self, view: View) -> None:
        content = view.content
        data = content.data if content is not None else None
        shown = data if isinstance(data, ApplicationList) else None
        show_freshness(self.ctx.t, view, self.stale, self.freshness)
        if shown != self._shown:
            self._shown = shown
            self._fill(shown)
        self.pager.render(content)

    def _fill(self, shown: ApplicationList | None) -> None:
        t, th, p = self.ctx.t, self.theme, self.theme.palette
        self.rows.clear_widgets()
        self.queued.clear_widgets()
        if shown is None:
            return
        queued = shown.applications.queued
        if queued:
            box = Surface(orientation="vertical", size_hint_y=None, padding=(dp(28), dp(16)),
                          spacing=dp(6), fill=rgba(p.info_bg), radius=dp(th.radius))
            box.bind(minimum_height=box.setter("height"))
            box.add_widget(Text(th, "heading", bold=True, halign="left", colour=p.info_text,
                                text=t("applications.queued_title")))
            for receipt in queued:
                box.add_widget(Text(th, "body", halign="left", colour=p.info_text,
                                    text=t("applications.queued_row",
                                           receipt_no=receipt.receipt_no,
                                           when=t.moment(receipt.submitted_at))))
            self.queued.add_widget(box)
        if not shown.applications.items and not queued:
            self.rows.add_widget(Text(th, "heading", text=t("applications.none"),
                                      colour=p.text_muted))
        for index, item in shown.rows:
            self.rows.add_widget(self._row(index, item))

    def _row(self, index: int, item: Application) -> Widget:
        t, th = self.ctx.t, self.theme
        latest = item.history[-1].at if item.history else None
        when = f" · {t.date(to_china(latest).date())}" if latest is not None else ""
        return self.value_button(
            f"applications.item-{index}", Action.CHOOSE, str(index), primary=False,
            height=th.big_button_height * 0.75, font_size=th.heading,
            text=(f"[b]{item.subsidy_name or item.subsidy}[/b]  {t.period(item.period)}\n"
                  f"[size={int(dp(th.body))}]{status_words(t, item.status)}{when}[/size]"),
        )

    def clear(self) -> None:
        self._shown = None
        self.rows.clear_widgets()
        self.queued.clear_widgets()
        self.freshness.text = ""
        self.stale.hide()


class ApplicationScreen(KioskScreen):
    screen_name = ScreenName.APPLICATION
    prompts = ("application.title",)
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th, p = ctx.t, self.theme, self.theme.palette
        self.title = self.text("title", text=t("application.title"), bold=True, halign="left")
        self.subsidy = self.text("heading", bold=True, halign="left")
        self.facts = self.text("body", halign="left", colour=p.text_muted)
        self.timeline = Surface(orientation="vertical", size_hint_y=None,
                                padding=(dp(28), dp(18)), spacing=dp(14), fill=rgba(p.surface),
                                outline=rgba(p.divider), radius=dp(th.radius))
        self.timeline.bind(minimum_height=self.timeline.setter("height"))
        actions = self.action_row(
            self.button("application.back", Action.BACK, primary=False, text=t("button.back")),
            self.button("application.end", Action.END, text=t("button.end")),
        )
        for widget in (self.title, self.subsidy, self.facts, self.timeline, spacer(1), actions):
            self.column.add_widget(widget)
        self._shown: Application | None = None

    def render(self, view: View) -> None:
        content = view.content
        item = content.data if content is not None else None
        if not isinstance(item, Application) or item == self._shown:
            return
        self._shown = item
        t, th = self.ctx.t, self.theme
        self.subsidy.text = f"{item.subsidy_name or item.subsidy}  {t.period(item.period)}"
        facts = [t("application.no", application_no=item.application_no)]
        if item.amount is not None:
            facts.append(t("application.amount", amount=t.money(item.amount)))
        if item.bank or item.account_masked:
            facts.append(t("application.bank", bank=item.bank or "",
                           account=item.account_masked or ""))
        self.facts.text = "\n".join(facts)
        self.timeline.clear_widgets()
        for entry in reversed(item.history):  # newest first: what matters now is on top
            self.timeline.add_widget(_history_row(th, t, entry))

    def clear(self) -> None:
        self._shown = None
        self.subsidy.text = self.facts.text = ""
        self.timeline.clear_widgets()


def _history_row(theme: Theme, t: Translator, entry: HistoryEntry) -> Widget:
    p = theme.palette
    trouble = entry.status in _TROUBLE
    row = FitBox(spacing=dp(4))
    when = t.date(to_china(entry.at).date())
    row.add_widget(Text(theme, "heading", halign="left", bold=True,
                        colour=p.warning_text if trouble else p.text,
                        text=f"{when}  {status_words(t, entry.status)}"))
    if entry.reason:
        row.add_widget(Text(theme, "body", halign="left", colour=p.text_muted, text=entry.reason))
    return row
