"""The UI side of the automation hooks: taps, visible texts and screenshots on the UI thread.

Called from the status server's HTTP threads; every operation is posted to the UI thread with
Kivy's (thread-safe) Clock and the HTTP thread waits for its result with a timeout.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeVar

from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.input.motionevent import MotionEvent
from kivy.metrics import dp
from kivy.uix.behaviors import ButtonBehavior, ToggleButtonBehavior
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.status_server import AutomationError
from kiosk.ui.frames import after_frames, after_settled, capture, unique_path
from kiosk.ui.widgets import KioskButton, Mark

log = logging.getLogger(__name__)

T = TypeVar("T")
_MARKUP = re.compile(r"\[/?[a-z]+(=[^\]]*)?\]")
_KEY = re.compile(r"(\.key-).*$")
# A run a line may not be broken inside: Latin words, numbers, amounts ("¥86,543.21").
# Chinese breaks between any two characters, so it is not one.
_UNBREAKABLE = re.compile(r"[A-Za-z0-9¥$%.,:/()'\-]{2,}")


class _AutomationTouch(MotionEvent):
    """A synthetic finger, dispatched through the event loop exactly like a real touch."""

    def __init__(self, x: float, y: float) -> None:
        win = EventLoop.window
        super().__init__(
            "automation", id(self), {"x": x / (win.width - 1.0), "y": y / (win.height - 1.0)},
            is_touch=True, type_id="touch",
        )
        self.profile = ["pos"]

    def depack(self, args: dict[str, float]) -> None:
        self.sx, self.sy = args["x"], args["y"]
        super().depack(args)


class UiAutomation:
    """Implements kiosk.status_server.Automation for the running app.

    `roots()` returns the widget trees a user can see now, topmost first (the idle overlay when
    shown, then the current screen). `tap_guard()` is how long the app will still ignore taps
    after a screen change (kiosk.ui.tap_guard); a scripted tap waits that out, as a person would
    have to, instead of being silently ignored.
    """

    def __init__(self, roots: Callable[[], list[Widget]], screen: Callable[[], str],
                 shots_dir: Path, tap_guard: Callable[[], float] = lambda: 0.0,
                 chrome: Callable[[], list[Widget]] = list,
                 state: Callable[[], dict[str, Any]] = dict) -> None:
        """`chrome()`: the frame's controls around every screen (language, sound), tappable
        but listed apart ("chrome"), not among a screen's targets; `state()`: more to say in
        texts() (the mode and language in effect)."""
        self._roots = roots
        self._chrome = chrome
        self._state = state
        self._screen = screen
        self._shots_dir = shots_dir
        self._tap_guard = tap_guard

    # Automation protocol (HTTP threads) -------------------------------------------------------

    def tap(self, target: str, timeout_s: float) -> dict[str, Any]:
        def attempt(fut: Future[dict[str, Any]]) -> None:
            wait = self._tap_guard()
            if wait > 0:
                Clock.schedule_once(lambda _dt: _settle(fut, lambda: attempt(fut)), wait)
            else:
                # Where the button is once the screen has settled: a new screen's layout may
                # move it in its first frames (text wraps, then its column re-flows).
                after_settled(lambda: _settle(fut, lambda: fut.set_result(self._tap(target))))

        return self._on_ui(attempt, timeout_s)

    def texts(self, timeout_s: float) -> dict[str, Any]:
        return self._on_ui(
            lambda fut: fut.set_result({
                "screen": self._screen(),
                "texts": self._texts(),
                "targets": sorted(b.target for b in self._buttons() if not b.disabled),
                "chrome": sorted(b.target for b in self._buttons(self._chrome())
                                 if not b.disabled),
                **self._state(),
            }),
            timeout_s,
        )

    def layout(self, timeout_s: float) -> dict[str, Any]:
        """Where every visible widget is, for the gallery's checks (tests/harness/layout.py).

        Waits one drawn frame first, as a screenshot does, so both see the same layout.
        """
        def start(fut: Future[dict[str, Any]]) -> None:
            after_frames(lambda: _settle(fut, lambda: fut.set_result(self._layout())), frames=1)

        return self._on_ui(start, timeout_s)

    def input(self, event: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        return self._on_ui(lambda fut: fut.set_result(self._input(event)), timeout_s)

    def screenshot(self, name: str, timeout_s: float) -> str:
        def start(fut: Future[str]) -> None:
            path = unique_path(self._shots_dir, name)

            def failed(exc: BaseException) -> None:
                fut.set_exception(AutomationError(
                    HTTPStatus.INTERNAL_SERVER_ERROR, f"screenshot failed: {type(exc).__name__}"
                ))

            after_frames(
                lambda: capture(path, lambda written: fut.set_result(str(written)), failed),
                frames=1,
            )

        path = self._on_ui(start, timeout_s)
        log.info("automation: screenshot %s", path)
        return path

    # UI thread ------------------------------------------------------------------------------

    def _tap(self, target: str) -> dict[str, Any]:
        visible = self._buttons()
        buttons = {b.target: b for b in visible}
        button = buttons.get(target)
        if button is None:
            # Also accept the flow action a button asks for ("start-journey", "end") when
            # exactly one visible button asks for it: scripts need not know the layout.
            by_action = [b for b in visible if b.action is not None and str(b.action) == target]
            button = by_action[0] if len(by_action) == 1 else None
        if button is None:
            button = {b.target: b for b in self._buttons(self._chrome())}.get(target)
        if button is None:
            raise AutomationError(
                HTTPStatus.NOT_FOUND, f"no button {target!r} on screen {self._screen()!r}",
                screen=self._screen(), targets=sorted(buttons),
            )
        if button.disabled:
            raise AutomationError(HTTPStatus.CONFLICT, f"button {target!r} is disabled",
                                  screen=self._screen())
        screen_before = self._screen()
        x, y = button.to_window(*button.center)
        touch = _AutomationTouch(x, y)
        EventLoop.post_dispatch_input("begin", touch)
        EventLoop.post_dispatch_input("end", touch)
        # A keypad key names a digit of a PIN or an ID number: logged without it.
        logged = _KEY.sub(r"\1*", button.target)
        log.info("automation: tapped %s on %s", logged, screen_before)
        return {"target": button.target, "screen_before": screen_before,
                "screen": self._screen()}

    def _input(self, event: dict[str, Any]) -> dict[str, Any]:
        win, screen_before = EventLoop.window, self._screen()
        key, at = event.get("key"), event.get("at")
        if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < 2**31:
            # As kivy/core/window/window_sdl2.py dispatches a key press from SDL.
            if not win.dispatch("on_key_down", key, 0, None, []):
                win.dispatch("on_keyboard", key, 0, None, [])
            win.dispatch("on_key_up", key, 0)
            log.info("automation: key %d on %s", key, screen_before)
        elif (isinstance(at, list) and len(at) == 2
              and all(isinstance(v, int | float) and 0 <= v <= 1 for v in at)):
            touch = _AutomationTouch(at[0] * (win.width - 1.0), at[1] * (win.height - 1.0))
            EventLoop.post_dispatch_input("begin", touch)
            EventLoop.post_dispatch_input("end", touch)
        else:
            raise AutomationError(HTTPStatus.BAD_REQUEST,
                                  'input: {"key": <keycode>} or {"at": [x, y]} (0 to 1)')
        return {"screen_before": screen_before, "screen": self._screen()}

    def _buttons(self, roots: list[Widget] | None = None) -> list[KioskButton]:
        found: list[KioskButton] = []
        for root in self._roots() if roots is None else roots:
            found += [w for w in root.walk(restrict=True)
                      if isinstance(w, KioskButton) and w.target and _visible(w)]
            if found:  # a modal layer on top hides everything under it
                break
        return found

    def _texts(self) -> list[str]:
        texts: list[str] = []
        for root in self._roots():
            for widget in root.walk(restrict=True):
                if isinstance(widget.parent, Mark):
                    continue  # the '!' in a round sign is decoration, not words
                if isinstance(widget, Label) and _visible(widget) and widget.text.strip():
                    text = _MARKUP.sub("", widget.text) if widget.markup else widget.text
                    texts.extend(line.strip() for line in text.splitlines() if line.strip())
        return texts

    def _layout(self) -> dict[str, Any]:
        win = EventLoop.window
        roots = self._roots()
        # A modal layer (the idle warning) covers the rest: only it can be read or tapped.
        # Otherwise everything in the window counts, the header and footer included.
        trees = roots[:1] if len(roots) > 1 else list(win.children)
        unit = dp(1)
        widgets: list[dict[str, Any]] = []
        for tree in trees:
            for widget in tree.walk(restrict=True):
                if widget is tree or not _visible(widget) or widget.width <= 0 \
                        or widget.height <= 0:
                    continue
                widgets.append(_describe(widget, len(widgets), win.height, unit))
        return {"screen": self._screen(), "window": [int(win.width), int(win.height)],
                "dp": unit, "widgets": widgets}

    def _on_ui(self, start: Callable[[Future[T]], None], timeout_s: float) -> T:
        future: Future[T] = Future()
        Clock.schedule_once(lambda _dt: _settle(future, lambda: start(future)), 0)
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout as exc:
            raise AutomationError(
                HTTPStatus.GATEWAY_TIMEOUT, f"the UI did not answer within {timeout_s:g} s"
            ) from exc


def _settle(future: Future[Any], step: Callable[[], None]) -> None:
    """Run `step` (which completes `future` now or later); its failure completes it instead."""
    try:
        step()
    except AutomationError as exc:
        future.set_exception(exc)
    except Exception as exc:
        log.exception("automation: UI operation failed")
        future.set_exception(
            AutomationError(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}")
        )


def _box(widget: Widget, window_height: float) -> list[float]:
    """[x, y, w, h] in window pixels, y from the top (as in the screenshot's PNG)."""
    x, y = widget.to_window(*widget.pos)
    return [round(x, 1), round(window_height - y - widget.height, 1),
            round(widget.width, 1), round(widget.height, 1)]


def _escaped(widget: Widget, box: list[float],
             window_height: float) -> tuple[str, list[float]] | None:
    """The nearest holder (parent, grandparent...) whose box does not contain `widget`'s:
    there it is clipped or drawn over its neighbours. None when every holder contains it."""
    x, y, w, h = box
    node = widget.parent
    while isinstance(node, Widget):
        ox, oy, ow, oh = _box(node, window_height)
        if x < ox - 1.5 or y < oy - 1.5 or x + w > ox + ow + 1.5 or y + h > oy + oh + 1.5:
            return type(node).__name__, [ox, oy, ow, oh]
        node = node.parent
    return None


def _describe(widget: Widget, index: int, window_height: float, unit: float) -> dict[str, Any]:
    box = _box(widget, window_height)
    entry: dict[str, Any] = {
        "index": index, "kind": type(widget).__name__, "box": box,
        "box_dp": [round(v / unit, 1) for v in box],
        "outside": _escaped(widget, box, window_height),
        "tappable": isinstance(widget, ButtonBehavior | ToggleButtonBehavior),
        "target": getattr(widget, "target", "") or "",
        "disabled": bool(widget.disabled),
    }
    if isinstance(widget, Label):
        text = _MARKUP.sub("", widget.text) if widget.markup else widget.text
        entry.update(text=text, texture=[round(v, 1) for v in widget.texture_size],
                     decoration=isinstance(widget.parent, Mark),
                     broken=_broken_word(widget, text))
    return entry


def _broken_word(label: Label, text: str) -> list[Any] | None:
    """[word, its width] when a wrapped label's line is narrower than one of its words: Kivy
    then breaks the word (or the amount) mid-way, which no size check sees."""
    width = label.text_size[0]
    core = getattr(label, "_label", None)
    if not width or core is None:
        return None
    words = _UNBREAKABLE.findall(text)
    if not words:
        return None
    widest = max(words, key=len)
    measured = max((core.get_extents(word)[0], word) for word in words
                   if len(word) >= len(widest) // 2)
    if measured[0] > width + 1:
        return [measured[1], round(measured[0], 1)]
    return None


def _visible(widget: Widget) -> bool:
    node: Widget | None = widget
    while node is not None:
        if node.opacity <= 0:
            return False
        parent = node.parent
        node = parent if isinstance(parent, Widget) else None
    return True
