"""What every screen shares: the context it is built with and the `KioskScreen` base.

A screen renders a flow `View` and holds no state of its own beyond widgets. Screens that show
citizen data empty their widgets in `clear()`, which the app calls whenever they are not on
screen: nothing of one citizen lingers for the next. Each screen class declares its name and
what the voice says when it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.i18n import Translator
from kiosk.ui.theme import Theme
from kiosk.ui.widgets import Banner, ColumnFlow, KioskButton, Text


@dataclass(frozen=True)
class UiContext:
    theme: Theme
    t: Translator
    on_action: Callable[[Action], None]
    animate: bool = True
    on_journey: Callable[[str], None] = lambda _key: None  # a service button on home
    # A journey step's button that carries a value (a row index, a keypad character).
    on_value: Callable[[Action, str], None] = lambda _action, _value: None
    # The newest frame of the camera the QR scanner decodes (None: a serial scanner or none).
    qr_preview: Callable[[], Any] | None = None


def landscape() -> bool:
    """Whether the window is wider than tall (the window's size is fixed once it is open)."""
    from kivy.core.window import Window

    return bool(Window.width > Window.height)


def spacer(weight: float = 1.0) -> Widget:
    return Widget(size_hint_y=weight)


def freshness(t: Translator, view: View) -> tuple[str, bool]:
    """('数据更新于 …', is_warning) or ('', False) when there is nothing to say."""
    if view.as_of is None:
        return "", False
    if view.stale:
        return t("data.stale", as_of=t.moment(view.as_of)), True
    return t("data.as_of", as_of=t.moment(view.as_of)), False


def show_freshness(t: Translator, view: View, banner: Banner, line: Text | None = None) -> None:
    """The data's age: a quiet line when it is fresh (`line`, on screens that have one), the
    warning banner when it is stale (served from the edge's cache while central is away)."""
    text, warning = freshness(t, view)
    if line is not None:
        line.text = "" if warning else text
    if warning:
        banner.show(text)
    else:
        banner.hide()


class KioskScreen(Screen):
    """Base: a padded vertical column on the paper background."""

    screen_name: ClassVar[ScreenName]
    prompts: ClassVar[tuple[str, ...]] = ()  # i18n keys the voice reads when it shows
    holds_citizen_data: ClassVar[bool] = False

    def __init__(self, ctx: UiContext, **kwargs: Any) -> None:
        super().__init__(name=str(self.screen_name), **kwargs)
        self.ctx = ctx
        th = ctx.theme
        # A landscape window is half as tall as the portrait panel the screens are drawn for:
        # there the column flows into two columns when its content would not fit.
        self.landscape = landscape()
        column = ColumnFlow if self.landscape else BoxLayout
        self.column: BoxLayout | ColumnFlow = column(
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

    def value_button(self, target: str, action: Action, value: str, primary: bool = True,
                     **kwargs: Any) -> KioskButton:
        """A button whose tap carries `value` (Tap.value) as well as its action."""
        on_value = self.ctx.on_value
        return KioskButton(self.theme, target, action, lambda a: on_value(a, value),
                           primary=primary, **kwargs)

    def action_row(self, *buttons: KioskButton) -> BoxLayout:
        """The row of buttons at the foot of a journey's screen (back, end, go on)."""
        row = BoxLayout(size_hint_y=None, height=dp(self.theme.button_height),
                        spacing=dp(self.theme.spacing))
        for button in buttons:
            row.add_widget(button)
        return row

    def journey_key(self, view: View, default: str = "") -> str:
        """The i18n prefix of the journey on screen (`apply`, `card-loss`)."""
        return view.content.journey if view.content is not None else default

    def prompt_keys(self, view: View) -> tuple[str, ...]:
        """What the voice reads for `view` (the message screen reads its notice)."""
        return self.prompts

    def render(self, view: View) -> None:
        """Show `view`. Called on every view change while this screen is current."""

    def clear(self) -> None:
        """Forget anything citizen-specific (called whenever the screen is not shown)."""

    def started(self) -> None:
        """The screen became current: start animations."""

    def stopped(self) -> None:
        """The screen was left: stop animations."""
