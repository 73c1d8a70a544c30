"""The social security card's PIN on a large keypad, as dots only (kiosk.flow.journeys.pin).

The keypad screen (keypad.py) under its own name and targets: `pin.key-0` … `pin.key-9`,
`pin.erase`, `pin.next`, `pin.back`, `pin.end`, and `pin.done` once there is nothing to type
(locked, the card left, changed). Above the keys: how many tries the card has left. Locked is
explained with where to unlock it; the keys then go away, so nobody types into a locked card.
Where the reader can reload a PIN, locked also offers `pin.staff-unlock` (pin_unlock.py).
Words: `<purpose>.title` / `.hint` (`pin.verify`, `pin.old`, `pin.new`, `pin.repeat`), and
`pin.state.<state>.title` / `.body`.
"""

from __future__ import annotations

from kivy.uix.widget import Widget

from kiosk.flow.journeys.pin import STAFF_UNLOCK, PinPad, PinState
from kiosk.flow.screens import Action, ScreenName
from kiosk.flow.view import View
from kiosk.ui.screens.base import UiContext, spacer
from kiosk.ui.screens.keypad import KeypadScreen
from kiosk.ui.widgets import Banner


class PinScreen(KeypadScreen):
    screen_name = ScreenName.PIN
    prompts = ("pin.title", "pin.prompt")
    target = "pin"

    def __init__(self, ctx: UiContext) -> None:
        self._done_shown = False
        self._unlock_shown = False
        self._built = False
        super().__init__(ctx)
        t = ctx.t
        self.done = self.button("pin.done", Action.DONE, text=t("button.done"))
        self.unlock = self.value_button("pin.staff-unlock", Action.CHOOSE, STAFF_UNLOCK,
                                        primary=False, text=t("pin.staff_unlock"))

    def _layout(self) -> tuple[Widget, ...]:
        self.tries = Banner(self.theme, "info")
        self.state = self.text("heading", halign="left")
        return (self.step, self.label, self.hint, self.tries, self.display, self.count,
                self.error, self.state, self.keys, spacer(1), self.actions)

    def prompt_keys(self, view: View) -> tuple[str, ...]:
        pad = view.content.data if view.content is not None else None
        if isinstance(pad, PinPad) and pad.state not in (PinState.ENTRY, PinState.CHECKING):
            return (f"pin.state.{pad.state}.title", f"pin.state.{pad.state}.body")
        if isinstance(pad, PinPad):
            return (f"{pad.purpose}.title", "pin.prompt")
        return self.prompts

    def render(self, view: View) -> None:
        content = view.content
        pad = content.data if content is not None else None
        if not isinstance(pad, PinPad):
            return
        t = self.ctx.t
        typing = pad.state in (PinState.ENTRY, PinState.CHECKING)
        if not self._built:  # digits only, always the same
            self._built = True
            self._build_keys(pad)
        self.step.text = (t("keypad.step", step=pad.step, steps=pad.steps)
                          if pad.steps > 1 and typing else "")
        if typing:
            self.label.text = t(f"{pad.purpose}.title")
            self.hint.text = t(f"{pad.purpose}.hint")
            self.state.text = t("pin.checking") if pad.state is PinState.CHECKING else ""
        else:
            self.label.text = t(f"pin.state.{pad.state}.title")
            self.hint.text = ""
            self.state.text = t(f"pin.state.{pad.state}.body")
        # One notice at a time (a landscape column has room for one): an error takes the place
        # of the tries left (a wrong PIN's own words say how many), and so does the card's
        # checking, when there is nothing to type.
        quiet = bool(pad.error) or pad.state is PinState.CHECKING
        if typing and pad.tries_left is not None and not quiet:
            self.tries.show(t("pin.tries_left", tries=pad.tries_left))
        else:
            self.tries.hide()
        self.value.text = (pad.shown or " ") if typing else " "
        self.count.text = t("keypad.count", length=pad.length) if typing and pad.length else ""
        if pad.error and typing:
            self.error.show(t(pad.error, tries=pad.tries_left if pad.tries_left is not None
                              else "?"))
        else:
            self.error.hide()
        self.keys.opacity = 1 if typing else 0
        self.keys.disabled = not pad.accepts_keys
        self.display.opacity = 1 if typing else 0
        self.next.disabled = not (pad.ready and pad.accepts_keys)
        self._show_done(not typing)
        self._show_unlock(pad.staff_unlock and not typing)

    def _show_done(self, wanted: bool) -> None:
        """Nothing to type: DONE takes the place of NEXT."""
        if wanted == self._done_shown:
            return
        self._done_shown = wanted
        if wanted:
            self.actions.remove_widget(self.next)
            self.actions.add_widget(self.done)
        else:
            self.actions.remove_widget(self.done)
            self.actions.add_widget(self.next)

    def _show_unlock(self, wanted: bool) -> None:
        """A locked PIN that a staff member can unlock here: the offer, before DONE."""
        if wanted == self._unlock_shown:
            return
        self._unlock_shown = wanted
        if wanted:
            self.actions.add_widget(self.unlock, index=1)  # Kivy's index 0 is the last child
        else:
            self.actions.remove_widget(self.unlock)

    def clear(self) -> None:
        super().clear()
        self.tries.hide()
        self.state.text = ""
