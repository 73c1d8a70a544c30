"""Frame timing helpers: run code once a fresh frame has been drawn, and capture it to PNG."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.core.window import Window

log = logging.getLogger(__name__)


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
        callback()

    Window.bind(on_flip=on_flip)
    Window.canvas.ask_update()


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
