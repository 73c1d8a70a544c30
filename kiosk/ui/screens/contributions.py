"""Contributions by year and scheme (the contributions journey's screen), in pages."""

from __future__ import annotations

from kiosk.edge.models import Contributions, ContributionYear
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.i18n import Translator
from kiosk.ui.screens.base import KioskScreen, UiContext, freshness, spacer
from kiosk.ui.screens.pager import Pager
from kiosk.ui.screens.table import table, table_row
from kiosk.ui.widgets import Banner, Text

# Six columns in the elder theme's type: the amounts go without the ¥ sign (the headers say
# 元, as a printed statement does), or they wrap.
_WEIGHTS = (0.1, 0.17, 0.15, 0.18, 0.19, 0.21)
_AMOUNTS = frozenset({3, 4, 5})


class ContributionsScreen(KioskScreen):
    screen_name = ScreenName.CONTRIBUTIONS
    prompts = ("contributions.title",)
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th, p = ctx.t, self.theme, self.theme.palette
        self.title = self.text("title", text=t("contributions.title"), bold=True, halign="left")
        self.freshness = self.text("small", colour=p.text_muted, halign="left")
        self.stale = Banner(th, "warning")
        self.note = self.text("body", colour=p.text_muted, halign="left",
                              text=t("contributions.note"))
        self.table = table(th)
        self.pager = Pager(self, "contributions")
        actions = self.action_row(
            self.button("contributions.back", Action.BACK, primary=False,
                        text=t("button.back")),
            self.button("contributions.end", Action.END, text=t("button.end")),
        )
        for widget in (self.title, self.freshness, self.stale, self.note, self.table,
                       spacer(1), self.pager, actions):
            self.column.add_widget(widget)
        self._shown: tuple[Contributions | None, int] | None = None

    def render(self, view: View) -> None:
        content = view.content
        data = content.data if content is not None else None
        shown = data if isinstance(data, Contributions) else None
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

    def _fill(self, shown: Contributions | None, page: int) -> None:
        t, th = self.ctx.t, self.theme
        self.table.clear_widgets()
        if shown is None:
            return
        if not shown.items:
            self.table.add_widget(Text(th, "body", text=t("contributions.none"),
                                       colour=th.palette.text_muted))
            return
        self.table.add_widget(table_row(th, [
            t("contributions.col.year"), t("contributions.col.scheme"),
            t("contributions.col.months"), t("contributions.col.base"),
            t("contributions.col.personal"), t("contributions.col.employer"),
        ], _WEIGHTS, amounts=_AMOUNTS, header=True))
        size = th.page_size
        for i, item in enumerate(shown.items[page * size:(page + 1) * size]):
            self.table.add_widget(table_row(th, _cells(t, item), _WEIGHTS, amounts=_AMOUNTS,
                                            shaded=i % 2 == 1))

    def clear(self) -> None:
        self._shown = None
        self.table.clear_widgets()
        self.freshness.text = ""
        self.stale.hide()


def _cells(t: Translator, item: ContributionYear) -> list[str]:
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
