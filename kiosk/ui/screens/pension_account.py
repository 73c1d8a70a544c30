"""The pension personal account (the pension-account journey's screen): the balance, then one
row a year (credited, interest, paid out, balance at the year's end), in pages."""

from __future__ import annotations

from typing import ClassVar

from kivy.metrics import dp

from kiosk.edge.models import AccountYear, PensionAccount
from kiosk.flow.screens import ScreenName
from kiosk.i18n import Translator
from kiosk.ui.screens.table import PagedTableScreen
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import Surface, Text


class PensionAccountScreen(PagedTableScreen):
    screen_name = ScreenName.PENSION_ACCOUNT
    prompts = ("pension-account.title",)
    key = "pension-account"
    payload = PensionAccount
    columns = tuple(f"pension-account.col.{c}"
                    for c in ("year", "credited", "interest", "paid_out", "balance"))
    weights: ClassVar[tuple[float, ...]] = (0.14, 0.215, 0.215, 0.215, 0.215)
    amounts = frozenset({1, 2, 3, 4})

    def summary(self) -> Surface:
        th, p = self.theme, self.theme.palette
        box = Surface(orientation="vertical", size_hint_y=None, padding=(dp(28), dp(18)),
                      spacing=dp(8), fill=rgba(p.surface), outline=rgba(p.divider),
                      radius=dp(th.radius))
        box.bind(minimum_height=box.setter("height"))
        self.balance = Text(th, "heading", bold=True, halign="left")
        self.scheme = Text(th, "body", halign="left", colour=p.text_muted)
        box.add_widget(self.balance)
        box.add_widget(self.scheme)
        return box

    def summarise(self, shown: PensionAccount | None) -> None:
        t = self.ctx.t
        if shown is None:
            self.balance.text = self.scheme.text = ""
            return
        self.balance.text = t("pension-account.balance", balance=t.money(shown.balance))
        self.scheme.text = (t.optional(f"scheme.{shown.scheme}", shown.scheme)
                            if shown.scheme else "")

    def cells(self, t: Translator, item: AccountYear) -> list[str]:
        return [str(item.year), t.money(item.credited), t.money(item.interest),
                t.money(item.paid_out), t.money(item.balance)]
