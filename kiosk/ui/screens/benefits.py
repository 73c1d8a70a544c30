"""Pension payments and insurance participation (the benefits journey's screen)."""

from __future__ import annotations

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.edge.models import Benefits, Participation, PensionPayment
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.i18n import Translator
from kiosk.ui.screens.base import KioskScreen, UiContext, show_freshness, spacer
from kiosk.ui.screens.table import table_row
from kiosk.ui.theme import Theme, rgba, rows_per_page
from kiosk.ui.widgets import Banner, ColumnBreak, Surface, Text


class BenefitsScreen(KioskScreen):
    screen_name = ScreenName.BENEFITS
    prompts = ("benefits.title",)
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th, p = ctx.t, self.theme, self.theme.palette
        self.column.spacing = dp(th.spacing * 0.7)
        self.title = self.text("title", text=t("benefits.title"), bold=True, halign="left")
        self.freshness = self.text("small", colour=p.text_muted, halign="left")
        self.stale = Banner(th, "warning")

        self.participation = Surface(
            orientation="vertical", size_hint_y=None, padding=(dp(28), dp(18)),
            spacing=dp(8), fill=rgba(p.surface), outline=rgba(p.divider), radius=dp(th.radius),
        )
        self.participation.bind(minimum_height=self.participation.setter("height"))

        self.payments_heading = self.text(
            "heading", text=t("benefits.payments"), bold=True, halign="left"
        )
        self.bank = self.text("body", colour=p.text_muted, halign="left")
        self.table = Surface(
            orientation="vertical", size_hint_y=None, fill=rgba(p.surface),
            outline=rgba(p.divider), radius=dp(th.radius), padding=(dp(8), dp(8)),
        )
        self.table.bind(minimum_height=self.table.setter("height"))

        self.pager = BoxLayout(size_hint_y=None, height=dp(th.button_height),
                               spacing=dp(th.spacing))
        self.previous = self.button("benefits.previous-page", Action.PREVIOUS_PAGE,
                                    primary=False, text=t("button.previous_page"))
        self.page = self.text("body")
        self.page.size_hint_y = 1
        self.next = self.button("benefits.next-page", Action.NEXT_PAGE, primary=False,
                                text=t("button.next_page"))
        for widget in (self.previous, self.page, self.next):
            self.pager.add_widget(widget)

        self.actions = BoxLayout(size_hint_y=None, height=dp(th.button_height),
                                 spacing=dp(th.spacing))
        self.actions.add_widget(self.button("benefits.back", Action.BACK, primary=False,
                                            text=t("button.back")))
        self.actions.add_widget(self.button("benefits.end", Action.END, text=t("button.end")))

        top = (self.title, self.freshness, self.stale, self.participation)
        payments = (self.payments_heading, self.bank, self.table)
        # Landscape: the cover on the left, the payments beside it, the pager between back
        # and end in the one row of buttons.
        if self.landscape:
            self.actions.add_widget(self.pager, index=1)
            self.pager.size_hint_x = 3
        parts = ((*top, ColumnBreak(), *payments, self.actions)
                 if self.landscape else
                 (*top, *payments, spacer(1), self.pager,
                  Widget(size_hint_y=None, height=dp(th.spacing * 0.6)), self.actions))
        for widget in parts:
            self.column.add_widget(widget)
        self._shown: tuple[Benefits | None, int] | None = None

    def render(self, view: View) -> None:
        t = self.ctx.t
        content = view.content
        benefits = content.data if content is not None else None
        if not isinstance(benefits, Benefits):
            benefits = None
        page = content.page if content is not None else 0
        show_freshness(t, view, self.stale, self.freshness)
        if self._shown != (benefits, page):
            self._shown = (benefits, page)
            self._fill(benefits, page)
        pages = max(content.page_count if content is not None else 1, 1)
        self.page.text = t("benefits.page", page=page + 1, pages=pages)
        self.previous.disabled = page <= 0
        self.next.disabled = page >= pages - 1  # with one page, both are disabled
        self.pager.opacity = 1 if pages > 1 else 0

    def _fill(self, benefits: Benefits | None, page: int) -> None:
        self.participation.clear_widgets()
        self.table.clear_widgets()
        if benefits is None:
            self.bank.text = ""
            return
        t, th, p = self.ctx.t, self.theme, self.theme.palette
        self.participation.add_widget(
            Text(th, "heading", bold=True, halign="left", text=t("benefits.participation"))
        )
        if not benefits.participation:
            self.participation.add_widget(
                Text(th, "body", halign="left", text=t("benefits.no_participation"))
            )
        for item in benefits.participation:
            self.participation.add_widget(_participation_row(th, t, item))

        payments = benefits.pension_payments
        latest = payments[0] if payments else None
        self.bank.text = (
            t("benefits.bank", bank=latest.bank or "", account=latest.account_masked or "")
            if latest is not None and (latest.bank or latest.account_masked) else ""
        )
        if not payments:
            self.table.add_widget(Text(th, "body", text=t("benefits.none"),
                                       colour=p.text_muted))
            return
        self.table.add_widget(table_row(th, [
            t("benefits.col.period"), t("benefits.col.amount"), t("benefits.col.paid_on"),
            t("benefits.col.status"),
        ], _COLUMN_WEIGHTS, amounts=_AMOUNT, header=True))
        size = rows_per_page(th, self.landscape)
        for i, payment in enumerate(payments[page * size:(page + 1) * size]):
            self.table.add_widget(table_row(th, _payment_cells(t, payment), _COLUMN_WEIGHTS,
                                            amounts=_AMOUNT, bold=_AMOUNT, shaded=i % 2 == 1))

    def clear(self) -> None:
        self._shown = None
        self.participation.clear_widgets()
        self.table.clear_widgets()
        self.bank.text = ""
        self.freshness.text = ""
        self.stale.hide()


_COLUMN_WEIGHTS = (0.27, 0.27, 0.27, 0.19)
_AMOUNT = frozenset({1})  # bold, and lined up on the decimal point


def _payment_cells(t: Translator, payment: PensionPayment) -> list[str]:
    return [
        t.month(payment.period),
        t.money(payment.amount),
        t.day(payment.paid_on) if payment.paid_on else "—",
        t.optional(f"payment_status.{payment.status}", payment.status),
    ]


def _participation_row(theme: Theme, t: Translator, item: Participation) -> Widget:
    name = item.scheme_name if (t.chinese and item.scheme_name) else t.optional(
        f"scheme.{item.scheme}", item.scheme_name or item.scheme
    )
    status = t.optional(f"participation_status.{item.status}", item.status)
    parts = [name, status]
    if item.since:
        parts.append(t("benefits.since", since=t.month(item.since)))
    return Text(theme, "body", halign="left", text=" · ".join(parts))
