"""The pension personal account (the pension-account journey's screen): the balance, then one
row a year (credited, interest, paid out, balance at the year's end), in pages."""

from __future__ import annotations

from kivy.metrics import dp

from kiosk.edge.models import AccountYear, PensionAccount
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.i18n import Translator
from kiosk.ui.screens.base import KioskScreen, UiContext, freshness, spacer
from kiosk.ui.screens.pager import Pager
from kiosk.ui.screens.table import table, table_row
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import Banner, Surface, Text

_WEIGHTS = (0.14, 0.215, 0.215, 0.215, 0.215)
_AMOUNTS = frozenset({1, 2, 3, 4})


class PensionAccountScreen(KioskScreen):
    screen_name = ScreenName.PENSION_ACCOUNT
    prompts = ("pension-account.title",)
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th, p = ctx.t, self.theme, self.theme.palette
        self.title = self.text("title", text=t("pension-account.title"), bold=True,
                               halign="left")
        self.freshness = self.text("small", colour=p.text_muted, halign="left")
        self.stale = Banner(th, "warning")
        summary = Surface(orientation="vertical", size_hint_y=None, padding=(dp(28), dp(18)),
                          spacing=dp(8), fill=rgba(p.surface), outline=rgba(p.divider),
                          radius=dp(th.radius))
        summary.bind(minimum_height=summary.setter("height"))
        self.balance = Text(th, "heading", bold=True, halign="left")
        self.scheme = Text(th, "body", halign="left", colour=p.text_muted)
        summary.add_widget(self.balance)
        summary.add_widget(self.scheme)
        self.table = table(th)
        self.pager = Pager(self, "pension-account")
        actions = self.action_row(
            self.button("pension-account.back", Action.BACK, primary=False,
                        text=t("button.back")),
            self.button("pension-account.end", Action.END, text=t("button.end")),
        )
        for widget in (self.title, self.freshness, self.stale, summary, self.table,
                       spacer(1), self.pager, actions):
            self.column.add_widget(widget)
        self._shown: tuple[PensionAccount | None, int] | None = None

    def render(self, view: View) -> None:
        content = view.content
        data = content.data if content is not None else None
        shown = data if isinstance(data, PensionAccount) else None
        page = content.page if content is not None else 0
        text, warning = freshness(self.ctx.t, view)
        self.freshness.text = "" if warning else text
        if warning:
            self.stale.show(text)
        else:
            self.stale.hide()
        if self._shown != (shown, page):
            self._shown = (shown, page)
            self._fill(shown, page)
        self.pager.render(content)

    def _fill(self, shown: PensionAccount | None, page: int) -> None:
        t, th = self.ctx.t, self.theme
        self.table.clear_widgets()
        if shown is None:
            self.balance.text = self.scheme.text = ""
            return
        self.balance.text = t("pension-account.balance", balance=t.money(shown.balance))
        self.scheme.text = (t.optional(f"scheme.{shown.scheme}", shown.scheme)
                            if shown.scheme else "")
        if not shown.items:
            self.table.add_widget(Text(th, "body", text=t("pension-account.none"),
                                       colour=th.palette.text_muted))
            return
        self.table.add_widget(table_row(th, [
            t("pension-account.col.year"), t("pension-account.col.credited"),
            t("pension-account.col.interest"), t("pension-account.col.paid_out"),
            t("pension-account.col.balance"),
        ], _WEIGHTS, amounts=_AMOUNTS, header=True))
        size = th.page_size
        for i, item in enumerate(shown.items[page * size:(page + 1) * size]):
            self.table.add_widget(table_row(th, _cells(t, item), _WEIGHTS, amounts=_AMOUNTS,
                                            shaded=i % 2 == 1))

    def clear(self) -> None:
        self._shown = None
        self.table.clear_widgets()
        self.balance.text = self.scheme.text = ""
        self.freshness.text = ""
        self.stale.hide()


def _cells(t: Translator, item: AccountYear) -> list[str]:
    return [str(item.year), t.money(item.credited), t.money(item.interest),
            t.money(item.paid_out), t.money(item.balance)]
