"""The staff exit's keypad (kiosk/ui/staff_exit.py has the rules): a modal layer above
everything, invisible and transparent to touches until the corner gesture opens it.

Targets: `staff-exit.key-0` … `staff-exit.key-9`, `staff-exit.erase`, `staff-exit.ok`,
`staff-exit.cancel`. Digits show as dots only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.clock import Clock
from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk.flow.screens import Action
from kiosk.settings import KioskSettings
from kiosk.ui.screens.base import UiContext
from kiosk.ui.staff_exit import CORNER_DP, StaffExit, in_corner, load_pin
from kiosk.ui.widgets import Banner, KioskButton, ModalLayer, Text


class StaffExitPanel(ModalLayer):
    """Sees every touch first (it is the root's topmost child): counts corner taps while
    hidden and lets every touch through; takes all of them while shown."""

    def __init__(self, ctx: UiContext, state: StaffExit, *, allowed: Callable[[], bool],
                 on_exit: Callable[[], None]) -> None:
        th, p, t = ctx.theme, ctx.theme.palette, ctx.t
        super().__init__(th, width=0.7, spacing=th.spacing * 0.6)
        self.state = state
        self._t = t
        self._theme = th
        self._allowed = allowed
        self._on_exit = on_exit
        self.title = Text(th, "title", bold=True, text=t("staff_exit.title"))
        self.prompt = Text(th, "body", colour=p.text_muted, text=t("staff_exit.prompt"))
        self.dots = Text(th, "display", bold=True, text=" ")
        self.error = Banner(th, "warning")
        keys = GridLayout(cols=3, size_hint_y=None, spacing=dp(th.spacing * 0.5))
        keys.bind(minimum_height=keys.setter("height"))
        for char in "123456789":
            keys.add_widget(self._button(f"staff-exit.key-{char}", Action.KEY,
                                         lambda c=char: self.state.key(c), f"[b]{char}[/b]"))
        keys.add_widget(self._button("staff-exit.erase", Action.ERASE, self.state.erase,
                                     t("keypad.erase")))
        keys.add_widget(self._button("staff-exit.key-0", Action.KEY,
                                     lambda: self.state.key("0"), "[b]0[/b]"))
        keys.add_widget(self._button("staff-exit.ok", Action.NEXT, self._submit,
                                     t("staff_exit.confirm"), primary=True))
        row = BoxLayout(size_hint_y=None, height=dp(th.button_height))
        row.add_widget(self._button("staff-exit.cancel", Action.BACK, self.state.close,
                                    t("staff_exit.cancel")))
        for widget in (self.title, self.prompt, self.dots, self.error, keys, row):
            self.panel.add_widget(widget)
        self._ticker: Any = None
        self._show()

    @property  # type: ignore[override]
    def shown(self) -> bool:
        return self.state.open

    def _button(self, target: str, action: Action, run: Callable[[], None], text: str,
                primary: bool = False) -> KioskButton:
        def pressed(_action: Action) -> None:
            run()
            self._show()

        return KioskButton(self._theme, target, action, pressed, primary=primary, text=text)

    def _submit(self) -> None:
        if self.state.submit() == "exit":
            # On the next frame: the tap that got here finishes first (and its automation
            # answer goes out before the status server stops).
            Clock.schedule_once(lambda _dt: self._on_exit(), 0)

    def _show(self) -> None:
        """Draw the state: hidden (nothing at all), or the keypad with dots and any error."""
        shown = self.state.open
        self.opacity = 1 if shown else 0
        self.dots.text = "●" * len(self.state.entered) or " "
        if self.state.wrong:
            left = self.state.max_failures - self.state.failures
            self.error.show(self._t("staff_exit.wrong", left=left))
        else:
            self.error.hide()
        if shown and self._ticker is None:
            self._ticker = Clock.schedule_interval(self._tick, 1.0)
        elif not shown and self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def _tick(self, _dt: float) -> None:
        if self.state.expired() or (self.state.open and not self._allowed()):
            self.state.close()
        self._show()

    def citizen_arrived(self) -> None:
        """The flow moved on (a card was inserted): a citizen's screen is never covered."""
        if self.state.open and not self._allowed():
            self.state.close()
            self._show()

    # Touches: counted while hidden (and let through); modal while shown (ModalLayer).
    def on_touch_down(self, touch: Any) -> bool:
        if not self.state.open:
            window = self.get_root_window()
            height = window.height if window is not None else self.height
            if in_corner(touch.x, touch.y, height, dp(CORNER_DP)):
                if self.state.corner_tap(self._allowed()):
                    self._show()
                    return True  # the fifth tap opens the keypad and goes no further
            else:
                self.state.other_tap()
            return False
        return super().on_touch_down(touch)

def staff_exit_panel(ctx: UiContext, settings: KioskSettings, *, allowed: Callable[[], bool],
                     on_exit: Callable[[], None]) -> StaffExitPanel:
    """The panel for this terminal's settings (off, and never shown, without a PIN hash)."""
    state = StaffExit(load_pin(settings.staff_exit_pin_hash.get_secret_value()),
                      timeout_s=settings.staff_exit_timeout_s,
                      lockout_s=settings.staff_exit_lockout_s)
    return StaffExitPanel(ctx, state, allowed=allowed, on_exit=on_exit)
