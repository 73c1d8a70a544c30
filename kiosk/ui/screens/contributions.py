"""Contributions by year and scheme (the contributions journey's screen), in pages."""

from __future__ import annotations

from typing import ClassVar

from kiosk.edge.models import Contributions, ContributionYear
from kiosk.flow.screens import ScreenName
from kiosk.i18n import Translator
from kiosk.ui.screens.table import PagedTableScreen
from kiosk.ui.widgets import Text


class ContributionsScreen(PagedTableScreen):
    screen_name = ScreenName.CONTRIBUTIONS
    prompts = ("contributions.title",)
    key = "contributions"
    payload = Contributions
    columns = tuple(f"contributions.col.{c}"
                    for c in ("year", "scheme", "months", "base", "personal", "employer"))
    # Six columns in the elder theme's type: the amounts go without the ¥ sign (the headers
    # say 元, as a printed statement does), or they wrap.
    weights: ClassVar[tuple[float, ...]] = (0.1, 0.17, 0.15, 0.18, 0.19, 0.21)
    amounts = frozenset({3, 4, 5})

    def summary(self) -> Text:
        return self.text("body", colour=self.theme.palette.text_muted, halign="left",
                         text=self.ctx.t("contributions.note"))

    def cells(self, t: Translator, item: ContributionYear) -> list[str]:
        months = (t("contributions.months_arrears", months=item.months,
                    arrears=item.arrears_months)
                  if item.arrears_months else str(item.months))
        return [
            str(item.year),
            t.optional(f"scheme_short.{item.scheme}", item.scheme),
            months,
            f"{item.base:,.2f}",
            f"{item.personal:,.2f}",
            f"{item.employer:,.2f}",
        ]
