"""The UI side of the fleet agent's control routes (kiosk.status_server, `/control/*`).

Called from the status server's HTTP threads; each operation runs on the UI thread (posted
with Kivy's thread-safe Clock) and the HTTP thread waits for it with a timeout. A screenshot is
refused, before the frame and again at the frame itself, whenever a citizen may be on screen:
a citizen's screen never leaves the terminal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from typing import Any, Protocol, TypeVar

from kivy.clock import Clock
from kivy.core.window import Window

from kiosk.status_server import SESSION_ACTIVE, UI_NOT_READY, AutomationError
from kiosk.ui.frames import after_frames
from kiosk.ui.png import encode_png

log = logging.getLogger(__name__)

T = TypeVar("T")


class ControlledApp(Protocol):
    """What the control routes need of the app; every method is called on the UI thread."""

    def set_maintenance(self, on: bool, reason: str) -> tuple[bool, bool]:
        """Apply it; (on, pending)."""
        ...

    def ui_ready(self) -> bool:
        """A frame of a real screen has been drawn."""
        ...

    def serving_citizen(self) -> bool: ...


class UiControl:
    """Implements kiosk.status_server.Control for the running app."""

    def __init__(self, app: ControlledApp) -> None:
        self._app = app

    def maintenance(self, on: bool, reason: str, timeout_s: float) -> dict[str, bool]:
        def apply(fut: Future[dict[str, bool]]) -> None:
            now_on, pending = self._app.set_maintenance(on, reason)
            fut.set_result({"on": now_on, "pending": pending})

        return _on_ui(apply, timeout_s)

    def screenshot_png(self, max_width: int, timeout_s: float) -> bytes:
        def start(fut: Future[bytes]) -> None:
            self._admissible()

            def at_frame() -> None:
                # The flow may have moved on (a card inserted) since the request was admitted.
                try:
                    self._admissible()
                    width, height, pixels = _read_frame()
                except AutomationError as exc:
                    fut.set_exception(exc)
                    return
                threading.Thread(target=_encode_into, args=(fut, width, height, pixels,
                                                            max_width),
                                 name="control-screenshot", daemon=True).start()

            after_frames(lambda: _settle(fut, at_frame), frames=1)

        png = _on_ui(start, timeout_s)
        log.info("control: screenshot of an idle screen, %d bytes", len(png))
        return png

    def _admissible(self) -> None:
        if not self._app.ui_ready():
            raise AutomationError(HTTPStatus.SERVICE_UNAVAILABLE, UI_NOT_READY)
        if self._app.serving_citizen():
            raise AutomationError(HTTPStatus.CONFLICT, SESSION_ACTIVE)


def _read_frame() -> tuple[int, int, bytes]:
    """The frame being drawn (call from after_frames), RGB rows bottom first."""
    from kivy.graphics.opengl import (
        GL_PACK_ALIGNMENT,
        GL_RGB,
        GL_UNSIGNED_BYTE,
        glPixelStorei,
        glReadPixels,
    )

    width, height = (int(v) for v in Window.size)
    glPixelStorei(GL_PACK_ALIGNMENT, 1)
    return width, height, glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)


def _encode_into(fut: Future[bytes], width: int, height: int, pixels: bytes,
                 max_width: int) -> None:
    try:
        fut.set_result(encode_png(width, height, pixels, max_width))
    except Exception as exc:
        log.exception("control: screenshot could not be encoded")
        fut.set_exception(AutomationError(HTTPStatus.SERVICE_UNAVAILABLE, UI_NOT_READY,
                                          detail=type(exc).__name__))


def _on_ui(start: Callable[[Future[T]], None], timeout_s: float) -> T:
    future: Future[T] = Future()
    Clock.schedule_once(lambda _dt: _settle(future, lambda: start(future)), 0)
    try:
        return future.result(timeout=timeout_s)
    except FutureTimeout as exc:
        raise AutomationError(HTTPStatus.SERVICE_UNAVAILABLE, UI_NOT_READY) from exc


def _settle(future: Future[Any], step: Callable[[], None]) -> None:
    """Run `step` (which completes `future` now or later); its failure completes it instead."""
    try:
        step()
    except AutomationError as exc:
        if not future.done():
            future.set_exception(exc)
    except Exception as exc:
        log.exception("control: UI operation failed")
        if not future.done():
            future.set_exception(AutomationError(HTTPStatus.SERVICE_UNAVAILABLE, UI_NOT_READY,
                                                 detail=type(exc).__name__))
