"""Frame timing helpers: run code once a fresh frame has been drawn, and capture it to PNG."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import Clock
from kivy.core.window import Window

log = logging.getLogger(__name__)


def _nothing() -> object:
    return None


# Offscreen, kiosk.ui.boot.finish_frames makes this glFinish: a frame reported drawn (to a
# waiter, a screenshot, a test) has been rasterized by the software renderer, not only queued.
finish_frame: Callable[[], object] = _nothing


def after_frames(callback: Callable[[], None], frames: int = 2) -> None:
    """Call `callback` on the UI thread once `frames` frames have been drawn.

    It runs from `on_flip`, after the frame is drawn and before the buffers swap, so a
    screenshot taken there is exactly that frame. Two frames by default: a screen change lays
    out labels in one frame and may resize their parents in the next.
    """
    remaining = frames

    def on_flip(*_: Any) -> None:
        nonlocal remaining
        remaining -= 1
        if remaining > 0:
            Window.canvas.ask_update()
            return
        Window.unbind(on_flip=on_flip)
        finish_frame()
        callback()

    Window.bind(on_flip=on_flip)
    Window.canvas.ask_update()


# The after_settled waits under way. Held here because Kivy holds a bound method (the Clock's
# callbacks, Window.bind) only weakly; and their own Clock events are no work to wait for.
_waiting: set[_Settling] = set()


def _more_to_draw() -> bool:
    """The canvas changed since its last frame, or work is due that may change it (timeout
    <= 0: layout triggers, label textures, calls posted to the UI thread, animations)."""
    return Window.canvas.needs_redraw or any(
        event.timeout <= 0 for event in Clock.get_events()
        if not any(event is wait.event for wait in _waiting))


def after_settled(callback: Callable[[], None], frames: int = 2) -> None:
    """Call `callback` on the UI thread once what is on screen is drawn and nothing more waits
    to be drawn: at once if so already; else at the flip of the first frame after which
    nothing more is to be drawn (`_more_to_draw`), or once an iteration of the event loop has
    passed without drawing (Kivy draws only when the canvas changed), or after `frames` frames
    (a screen that never stops changing, a camera preview, settles as `after_frames` would).

    Unlike `after_frames` it never asks for a redraw: a frame under software GL (llvmpipe,
    1080x1920) costs 70-280 ms, and a second, identical frame only delays the answer. It may
    run from the Clock, not from `on_flip`: a screenshot must use `after_frames`.
    """
    if not _more_to_draw():  # every change is drawn already (a tap on a settled screen)
        callback()
        return
    _Settling(callback, frames)


class _Settling:
    """One after_settled wait: counts flips, and checks each iteration for one without."""

    def __init__(self, callback: Callable[[], None], frames: int) -> None:
        self._callback = callback
        self._frames = frames
        self._drawn = 0
        self._drew = False
        self._done = False
        self._check_later()
        _waiting.add(self)
        Window.bind(on_flip=self._on_flip)

    def _check_later(self) -> None:
        # Timeout 0 runs at the next iteration's start: after this one's draw, if it draws.
        self.event = Clock.schedule_once(self._check, 0)

    def _on_flip(self, *_: Any) -> None:
        self._drawn += 1
        self._drew = True
        if self._drawn >= self._frames or not _more_to_draw():
            finish_frame()
            self._finish()

    def _check(self, _dt: float) -> None:
        if self._done:
            return
        if self._drew or Window.canvas.needs_redraw:
            self._drew = False
            self._check_later()  # does the next iteration draw again?
            return
        self._finish()

    def _finish(self) -> None:
        self._done = True
        Window.unbind(on_flip=self._on_flip)
        self.event.cancel()
        _waiting.discard(self)
        self._callback()


def capture(path: Path, done: Callable[[Path], None] | None = None,
            failed: Callable[[BaseException], None] | None = None) -> None:
    """Write the frame being drawn to `path` (call from `after_frames`).

    The pixels are read on the UI thread (they only exist there); PNG encoding happens on a
    short-lived thread with fast compression (Kivy's Window.screenshot encodes on the UI
    thread), and `done(path)` is called from that thread once the file is complete, or
    `failed(exc)` if it could not be written.
    """
    from kivy.graphics.opengl import (
        GL_PACK_ALIGNMENT,
        GL_RGB,
        GL_UNSIGNED_BYTE,
        glPixelStorei,
        glReadPixels,
    )

    width, height = (int(v) for v in Window.size)
    glPixelStorei(GL_PACK_ALIGNMENT, 1)
    # This waits for the frame to be rasterised: with software GL (Mesa llvmpipe) a
    # 1080x1920 frame takes 0.1-1 s on a busy 2-core machine, the bulk of a screenshot's cost.
    pixels = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)

    def encode() -> None:
        from PIL import Image

        scratch = path.with_name(f".{path.name}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            image = Image.frombytes("RGB", (width, height), pixels)
            image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)  # GL rows start at the bottom
            image.save(scratch, format="PNG", compress_level=1)
            os.replace(scratch, path)  # readers never see half a file
        except Exception as exc:
            # A screen may show citizen data: leave no half-written file behind (disk full).
            scratch.unlink(missing_ok=True)
            log.exception("screenshot %s could not be written", path.name)
            if failed is not None:
                failed(exc)
            return
        if done is not None:
            done(path)

    threading.Thread(target=encode, name="screenshot", daemon=True).start()


def unique_path(directory: Path, stem: str) -> Path:
    """`<stem>.png`, or `<stem>-2.png`, ... if taken: a test's earlier shots are never lost."""
    candidate = directory / f"{stem}.png"
    n = 1
    while candidate.exists():
        n += 1
        candidate = directory / f"{stem}-{n}.png"
    return candidate
