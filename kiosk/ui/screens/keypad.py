"""One field on a large keypad, reused by every journey: phone, digits, ID number, PIN.

Keys are big (elder-friendly: far above 60 dp) and few; what is typed shows large above them,
a PIN as dots only. Targets: `keypad.key-0` … `keypad.key-9`, `keypad.key-X` (ID numbers),
`keypad.erase`, `keypad.next`, `keypad.back`, `keypad.end`. The card PIN's screen
(kiosk/ui/screens/pin.py) is this one under its own name and targets (`pin.key-0`, ...).
"""

from __future__ import annotations

from typing import ClassVar

from kivy.metrics import dp
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.flow.journeys.pin import PinPad
from kiosk.flow.journeys.steps import Keypad, KeypadKind
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import KioskScreen, UiContext, spacer
from kiosk.ui.theme import rgba
from kiosk.ui.widgets import Banner, KioskButton, Surface, Text

# Journeys whose ID number the resident ID card on its reader may type (card_loss.on_credential).
TAKES_IDCARD = frozenset({"card-loss"})


class KeypadScreen(KioskScreen):
    screen_name = ScreenName.KEYPAD
    prompts = ("keypad.title", "keypad.prompt")
    holds_citizen_data = True
    target: ClassVar[str] = "keypad"  # the automation ids' prefix

    def __init__(self, ctx: UiContext) -> None:
        super().__init__(ctx)
        t, th, p = ctx.t, self.theme, self.theme.palette
        self.column.spacing = dp(th.spacing * 0.8)
        self.step = self.text("body", halign="left", colour=p.text_muted)
        self.label = self.text("title", bold=True, halign="left")
        self.hint = self.text("body", halign="left", colour=p.text_muted)
        # Lower in a landscape window, where the keys' column is full: the typed value, at
        # display size, still fits with room to spare.
        self.display = Surface(orientation="vertical", size_hint_y=None,
                               height=dp(th.button_height * (1.0 if self.landscape else 1.2)),
                               padding=(dp(24), dp(8)),
                               fill=rgba(p.surface), outline=rgba(p.primary_bg),
                               radius=dp(th.radius))
        self.value = Text(th, "display", bold=True)
        self.value.size_hint_y = 1
        self.value.unbind(texture_size=self.value._fit)  # the box has a fixed height
        self.display.add_widget(self.value)
        self.count = self.text("small", colour=p.text_muted)
        self.error = Banner(th, "warning")
        # Keys a little lower in a landscape window (half the height), still far above 60 dp.
        self.key_height = th.button_height * (1.0 if self.landscape else 1.1)
        self.keys = GridLayout(cols=3, size_hint_y=None, spacing=dp(th.spacing * 0.6),
                               height=dp(self.key_height * 4 + th.spacing * 0.6 * 3))
        self._kind: KeypadKind | None = None
        self.next = self.button(f"{self.target}.next", Action.NEXT, text=t("keypad.next"))
        self.actions = self.action_row(
            self.button(f"{self.target}.back", Action.BACK, primary=False,
                        text=t("button.back")),
            self.button(f"{self.target}.end", Action.END, primary=False, text=t("button.end")),
            self.next,
        )
        for widget in self._layout():
            self.column.add_widget(widget)

    def _layout(self) -> tuple[Widget, ...]:
        return (self.step, self.label, self.hint, self.display, self.count, self.error,
                self.keys, spacer(1), self.actions)

    def _key(self, char: str) -> Widget:
        th = self.theme
        if not char:
            return Widget()
        return self.value_button(f"{self.target}.key-{char}", Action.KEY, char, primary=False,
                                 height=self.key_height, font_size=th.display,
                                 text=f"[b]{char}[/b]")

    def _build_keys(self, pad: Keypad | PinPad) -> None:
        th, t = self.theme, self.ctx.t
        self.keys.clear_widgets()
        digits = [k for k in pad.keys if k != "X"]
        for char in digits[:9]:
            self.keys.add_widget(self._key(char))
        self.keys.add_widget(self._key("X" if "X" in pad.keys else ""))
        self.keys.add_widget(self._key("0"))
        self.keys.add_widget(KioskButton(th, f"{self.target}.erase", Action.ERASE,
                                         self.ctx.on_action,
                                         primary=False, height=self.key_height,
                                         text=t("keypad.erase")))

    def render(self, view: View) -> None:
        content = view.content
        pad = content.data if content is not None else None
        if not isinstance(pad, Keypad):
            return
        t = self.ctx.t
        if pad.kind is not self._kind:
            self._kind = pad.kind
            self._build_keys(pad)
        self.step.text = t("keypad.step", step=pad.step, steps=pad.steps) if pad.steps > 1 else ""
        self.label.text = t(pad.label)
        self.hint.text = t(f"keypad.hint.{pad.kind}", max=pad.max_length)
        if (pad.kind is KeypadKind.CITIZEN_ID and view.offers("idcard")
                and self.journey_key(view) in TAKES_IDCARD):
            self.hint.text += "\n" + t("keypad.hint.idcard")
        self.value.text = pad.shown or " "
        self.count.text = t("keypad.count", length=pad.length) if pad.length else ""
        if pad.error:
            self.error.show(t(pad.error))
        else:
            self.error.hide()
        self.next.disabled = not pad.ready

    def clear(self) -> None:
        self.value.text = ""
        self.count.text = ""
        self.error.hide()
