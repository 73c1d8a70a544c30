"""The screens. Each one renders a flow `View` and holds no state of its own beyond widgets.

Screens that show citizen data (home, benefits) empty their widgets in `clear()`, which the app
calls whenever they are not on screen: nothing of one citizen lingers for the next.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.edge_models import Benefits, Participation, PensionPayment
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import Tone, View
from kiosk.i18n import Translator
from kiosk.ui.theme import Theme, rgba
from kiosk.ui.widgets import (
    Banner,
    BusyDots,
    CardSlotArt,
    FitBox,
    KioskButton,
    Mark,
    Surface,
    Text,
)


@dataclass(frozen=True)
class UiContext:
    theme: Theme
    t: Translator
    on_action: Callable[[Action], None]
    animate: bool = True


def _spacer(weight: float = 1.0) -> Widget:
    return Widget(size_hint_y=weight)


class KioskScreen(Screen):
    """Base: a padded vertical column on the paper background."""

    holds_citizen_data = False

    def __init__(self, ctx: UiContext, name: ScreenName, **kwargs: Any) -> None:
        super().__init__(name=str(name), **kwargs)
        self.ctx = ctx
        th = ctx.theme
        self.column = BoxLayout(
            orientation="vertical", padding=dp(th.padding), spacing=dp(th.spacing)
        )
        self.add_widget(self.column)

    @property
    def theme(self) -> Theme:
        return self.ctx.theme

    def text(self, role: str = "body", **kwargs: Any) -> Text:
        return Text(self.theme, role, **kwargs)

    def button(
        self, target: str, action: Action, primary: bool = True, **kwargs: Any
    ) -> KioskButton:
        return KioskButton(
            self.theme, target, action, self.ctx.on_action, primary=primary, **kwargs
        )

    def render(self, view: View) -> None:
        """Show `view`. Called on every view change while this screen is current."""

    def clear(self) -> None:
        """Forget anything citizen-specific (called whenever the screen is not shown)."""

    def started(self) -> None:
        """The screen became current: start animations."""

    def stopped(self) -> None:
        """The screen was left: stop animations."""


class AttractScreen(KioskScreen):
    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx, ScreenName.ATTRACT)
        t, p = ctx.t, self.theme.palette
        self.art = CardSlotArt(self.theme, animate=ctx.animate, size_hint_y=None,
                               height=dp(520))
        self.title = self.text("display", text=t("attract.title"), bold=True)
        self.hint = self.text("heading", text=t("attract.hint"))
        self.keep = self.text("body", text=t("attract.keep"), colour=p.text_muted)
        self.reader = Banner(self.theme, "warning")
        for widget in (_spacer(0.6), self.art, self.title, self.hint, self.keep, _spacer(0.5),
                       self.reader, _spacer(0.3)):
            self.column.add_widget(widget)

    def render(self, view: View) -> None:
        if view.reader_available:
            self.reader.hide()
        else:
            self.reader.show(self.ctx.t("attract.reader_unavailable"))

    def started(self) -> None:
        self.art.start()

    def stopped(self) -> None:
        self.art.stop()


class ProgressScreen(KioskScreen):
    """Reading, identifying and loading: one calm 'please wait' layout with its own words.

    While the card is being used it is drawn standing in the slot, a reminder not to pull it.
    """

    def __init__(self, ctx: UiContext, name: ScreenName, key: str, card: bool = False) -> None:
        super().__init__(ctx, name)
        self.art = CardSlotArt(self.theme, mode="inside", size_hint_y=None, height=dp(380),
                               opacity=1 if card else 0)
        self.dots = BusyDots(self.theme, scale=1.5, animate=ctx.animate,
                             pos_hint={"center_x": 0.5})
        self.title = self.text("display", text=ctx.t(f"{key}.title"), bold=True)
        self.body = self.text("title", text=ctx.t(f"{key}.body"),
                              colour=self.theme.palette.text_muted)
        widgets = [_spacer(0.8), self.art, self.dots, self.title, self.body, _spacer(1.2)]
        if not card:
            widgets.remove(self.art)
        for widget in widgets:
            self.column.add_widget(widget)

    def started(self) -> None:
        self.dots.start()

    def stopped(self) -> None:
        self.dots.stop()


def _freshness(t: Translator, view: View) -> tuple[str, bool]:
    """('数据更新于 …', is_warning) or ('', False) when there is nothing to say."""
    if view.as_of is None:
        return "", False
    if view.stale:
        return t("data.stale", as_of=t.moment(view.as_of)), True
    return t("data.as_of", as_of=t.moment(view.as_of)), False


class HomeScreen(KioskScreen):
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx, ScreenName.HOME)
        t, th = ctx.t, self.theme
        self.greeting = self.text("display", bold=True)
        self.prompt = self.text("heading", text=t("home.prompt"), colour=th.palette.text_muted)
        self.stale = Banner(th, "warning")
        self.benefits = self.button(
            "home.benefits", Action.SHOW_BENEFITS, height=th.big_button_height,
            text=(f"[b]{t('home.benefits')}[/b]\n"
                  f"[size={int(dp(th.body))}]{t('home.benefits_hint')}[/size]"),
            font_size=th.title,
        )
        self.end = self.button("home.end", Action.END, primary=False, text=t("home.end"))
        tip = Surface(orientation="vertical", size_hint_y=None, spacing=dp(10),
                      padding=(dp(32), dp(24)), fill=rgba(th.palette.info_bg),
                      radius=dp(th.radius))
        tip.bind(minimum_height=tip.setter("height"))
        tip.add_widget(Text(th, "heading", halign="left", bold=True,
                            colour=th.palette.info_text, text=t("home.tip.title")))
        tip.add_widget(Text(th, "body", halign="left", colour=th.palette.info_text,
                            text=t("home.tip.body")))
        for widget in (_spacer(0.35), self.greeting, self.prompt, self.stale, _spacer(0.25),
                       self.benefits, _spacer(0.5), tip, _spacer(0.6), self.end):
            self.column.add_widget(widget)

    def render(self, view: View) -> None:
        self.greeting.text = self.ctx.t("home.greeting", name=view.display_name)
        text, warning = _freshness(self.ctx.t, view)
        if warning:
            self.stale.show(text)
        else:
            self.stale.hide()

    def clear(self) -> None:
        self.greeting.text = ""
        self.stale.hide()


class BenefitsScreen(KioskScreen):
    holds_citizen_data = True

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx, ScreenName.BENEFITS)
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

        for widget in (self.title, self.freshness, self.stale, self.participation,
                       self.payments_heading, self.bank, self.table, _spacer(1), self.pager,
                       Widget(size_hint_y=None, height=dp(th.spacing * 0.6)), self.actions):
            self.column.add_widget(widget)
        self._shown: tuple[Benefits | None, int] | None = None

    def render(self, view: View) -> None:
        t = self.ctx.t
        text, warning = _freshness(t, view)
        self.freshness.text = "" if warning else text
        if warning:
            self.stale.show(text)
        else:
            self.stale.hide()
        if self._shown != (view.benefits, view.page):
            self._shown = (view.benefits, view.page)
            self._fill(view.benefits, view.page)
        pages = max(view.page_count, 1)
        self.page.text = t("benefits.page", page=view.page + 1, pages=pages)
        self.previous.disabled = view.page <= 0
        self.next.disabled = view.page >= pages - 1  # with one page, both are disabled
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
        self.table.add_widget(_payment_row(th, [
            t("benefits.col.period"), t("benefits.col.amount"), t("benefits.col.paid_on"),
            t("benefits.col.status"),
        ], header=True))
        size = th.page_size
        for i, payment in enumerate(payments[page * size:(page + 1) * size]):
            self.table.add_widget(_payment_row(th, _payment_cells(t, payment), shaded=i % 2 == 1))

    def clear(self) -> None:
        self._shown = None
        self.participation.clear_widgets()
        self.table.clear_widgets()
        self.bank.text = ""
        self.freshness.text = ""
        self.stale.hide()


_COLUMN_WEIGHTS = (0.27, 0.27, 0.27, 0.19)


def _payment_cells(t: Translator, payment: PensionPayment) -> list[str]:
    return [
        t.month(payment.period),
        t.money(payment.amount),
        t.day(payment.paid_on) if payment.paid_on else "—",
        t.optional(f"payment_status.{payment.status}", payment.status),
    ]


def _payment_row(theme: Theme, cells: list[str], header: bool = False,
                 shaded: bool = False) -> BoxLayout:
    p = theme.palette
    row = Surface(
        orientation="horizontal", size_hint_y=None, height=dp(theme.row_height),
        fill=rgba(p.info_bg if header else (p.background if shaded else p.surface)),
        radius=dp(8), padding=(dp(12), 0),
    )
    for i, (cell, weight) in enumerate(zip(cells, _COLUMN_WEIGHTS, strict=True)):
        label = Text(theme, "body", text=cell, bold=header or i == 1,
                     colour=p.info_text if header else p.text,
                     halign="right" if i == 1 else "center")
        label.size_hint = (weight, 1)
        label.unbind(texture_size=label._fit)  # rows have a fixed height
        if i == 1:  # amounts line up on the decimal point, away from the next column
            label.padding = (0, 0, dp(24), 0)
        row.add_widget(label)
    return row


def _participation_row(theme: Theme, t: Translator, item: Participation) -> Widget:
    name = item.scheme_name if (t.chinese and item.scheme_name) else t.optional(
        f"scheme.{item.scheme}", item.scheme_name or item.scheme
    )
    status = t.optional(f"participation_status.{item.status}", item.status)
    parts = [name, status]
    if item.since:
        parts.append(t("benefits.since", since=t.month(item.since)))
    return Text(theme, "body", halign="left", text=" · ".join(parts))


class MessageScreen(KioskScreen):
    """One message in a calm white panel: a round mark, a short title, a few short lines."""

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx, ScreenName.MESSAGE)
        th, p = self.theme, self.theme.palette
        self.panel = Surface(orientation="vertical", size_hint_y=None,
                             padding=(dp(th.padding), dp(th.padding * 1.2)),
                             spacing=dp(th.spacing * 1.2), fill=rgba(p.surface),
                             outline=rgba(p.divider), radius=dp(th.radius * 1.5))
        self.panel.bind(minimum_height=self.panel.setter("height"))
        self.mark = Mark(th, pos_hint={"center_x": 0.5})
        self.title = self.text("display", bold=True)
        self.body = self.text("heading")
        self.retrying = FitBox(spacing=dp(16))
        self.dots = BusyDots(th, animate=ctx.animate, pos_hint={"center_x": 0.5})
        self.retry_text = self.text("body", colour=p.text_muted, text=ctx.t("message.retrying"))
        self.retrying.add_widget(self.dots)
        self.retrying.add_widget(self.retry_text)
        for widget in (self.mark, self.title, self.body):  # + self.retrying while retrying
            self.panel.add_widget(widget)
        self.buttons = BoxLayout(size_hint_y=None, height=dp(th.button_height),
                                 spacing=dp(th.spacing))
        for widget in (_spacer(0.6), self.panel, _spacer(1), self.buttons):
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
        shown = self.retrying.parent is not None
        if notice.retrying and not shown:
            self.panel.add_widget(self.retrying)
        elif not notice.retrying and shown:
            self.panel.remove_widget(self.retrying)
        if notice.retrying:
            self.dots.start()
        else:
            self.dots.stop()
        wanted = tuple(a for a in notice.actions if a in self._BUTTONS)
        shown = tuple(b.action for b in self.buttons.children[::-1])
        if wanted != shown:
            self.buttons.clear_widgets()
            for action in wanted:
                target, key, primary = self._BUTTONS[action]
                self.buttons.add_widget(self.button(target, action, primary=primary, text=t(key)))
        self.buttons.opacity = 1 if wanted else 0

    def stopped(self) -> None:
        self.dots.stop()


class EndingScreen(KioskScreen):
    """The session is over; the one thing left to do is take the card."""

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx, ScreenName.ENDING)
        t, p = ctx.t, self.theme.palette
        self.art = CardSlotArt(self.theme, mode="take", animate=ctx.animate,
                               size_hint_y=None, height=dp(460))
        for widget in (
            _spacer(0.7), self.art,
            self.text("display", text=t("ending.body"), bold=True),
            self.text("title", text=t("ending.title"), colour=p.text_muted),
            self.text("heading", text=t("ending.thanks"), colour=p.text_muted),
            _spacer(1),
        ):
            self.column.add_widget(widget)

    def started(self) -> None:
        self.art.start()

    def stopped(self) -> None:
        self.art.stop()
